package daemon

import (
	"time"
)

// faultLogInterval is how often the daemon looks for new plugin faults to
// log. Faults are counted in metrics as they happen; the log is for people,
// and one line per plugin per interval keeps a crash-looping plugin from
// flooding it.
var faultLogInterval = time.Second

// watchFaults logs, once per interval and plugin, the faults that happened
// since the last look, with the latest fault's message.
func (d *Daemon) watchFaults(stop <-chan struct{}) {
	defer close(d.faultsDone)
	seen := map[string]uint64{}
	tick := time.NewTicker(faultLogInterval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		s := d.Snapshot()
		for _, t := range s.Tenants {
			for _, in := range t.Interfaces {
				for _, p := range in.Plugins {
					key := t.Name + "/" + in.Name + "/" + p.Name + "@" + p.SHA256
					n := p.Stats.Faults + p.Stats.RestartFailures
					if n > seen[key] {
						d.log.Warn("plugin faulted", "tenant", t.Name, "interface", in.Name, "plugin", p.Name,
							"new_faults", n-seen[key], "fault_packets", p.Stats.FaultPackets,
							"quarantined", p.Stats.Quarantined > 0, "last", p.Fault)
					}
					seen[key] = n
				}
			}
		}
	}
}
