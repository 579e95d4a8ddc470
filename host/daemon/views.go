package daemon

import (
	"fmt"
	"time"

	"github.com/memif-wasm/memif-wasm/host/dataplane"
)

// The operator's views of a running daemon, as VPP's CLI has them: packet
// trace (`trace add`, `show trace`, `clear trace`), capture (`pcap trace`),
// and worker runtime (`show runtime`, `clear runtime`). A tap lives on its
// interface while the interface is reopened by a config change; a tenant
// that is rebuilt (its budgets or interface list changed) starts without.

// ErrBusy: the interface already has a capture running.
var ErrBusy = fmt.Errorf("busy")

// TraceView is one interface's trace.
type TraceView struct {
	Tenant    string `json:"tenant"`
	Interface string `json:"interface"`
	// Pending counts the packets the trace still waits for.
	Pending int                      `json:"pending"`
	Packets []dataplane.TracedPacket `json:"packets"`
}

// AddTrace traces the next n packets received on tenant/iface (see
// dataplane.Trace), replacing a trace the interface had.
func (d *Daemon) AddTrace(tenant, iface string, n int) error {
	tr, err := dataplane.NewTrace(n)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p, err := d.find(tenant, iface)
	if err != nil {
		return err
	}
	p.trace = tr
	if p.hp != nil {
		p.hp.SetTrace(tr)
	}
	return nil
}

// Traces returns every interface's trace, in config order.
func (d *Daemon) Traces() []TraceView {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []TraceView{}
	for _, t := range d.tenants {
		for _, p := range t.ports {
			if p.trace == nil {
				continue
			}
			pkts, pending := p.trace.Packets()
			if pkts == nil {
				pkts = []dataplane.TracedPacket{}
			}
			out = append(out, TraceView{Tenant: t.name, Interface: p.cfg.Name, Pending: pending, Packets: pkts})
		}
	}
	return out
}

// ClearTraces stops every trace and forgets what they recorded.
func (d *Daemon) ClearTraces() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range d.tenants {
		for _, p := range t.ports {
			p.trace = nil
			if p.hp != nil {
				p.hp.SetTrace(nil)
			}
		}
	}
}

// StartCapture starts capturing on tenant/iface (see dataplane.Capture);
// the caller reads the capture's packets and ends it with StopCapture. An
// interface has one capture at a time (ErrBusy).
func (d *Daemon) StartCapture(tenant, iface string, cfg dataplane.CaptureConfig) (*dataplane.Capture, error) {
	c, err := dataplane.NewCapture(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p, err := d.find(tenant, iface)
	if err != nil {
		return nil, err
	}
	if p.capt != nil {
		return nil, fmt.Errorf("%w: interface %s already has a capture running", ErrBusy, p.label())
	}
	p.capt = c
	if p.hp != nil {
		p.hp.SetCapture(c)
	}
	return c, nil
}

// StopCapture ends capture c on tenant/iface; it is a no-op when c has
// ended already.
func (d *Daemon) StopCapture(tenant, iface string, c *dataplane.Capture) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, err := d.find(tenant, iface)
	if err != nil || p.capt != c {
		return
	}
	p.capt = nil
	if p.hp != nil && p.hp.Capture() == c {
		p.hp.SetCapture(nil)
	}
}

// ErrInvalidRequest wraps a view request with a bad argument.
var ErrInvalidRequest = fmt.Errorf("invalid request")

// Runtime is the `show runtime` view: per worker and per plugin, the
// counters since the daemon started or since ClearRuntime.
type Runtime struct {
	// Since is when counting started: the daemon's start or the last clear.
	Since   time.Time       `json:"since"`
	Seconds float64         `json:"seconds"`
	Workers []WorkerRuntime `json:"workers"`
	Plugins []PluginRuntime `json:"plugins"`
}

// WorkerRuntime is one worker (rx queue).
type WorkerRuntime struct {
	Tenant    string `json:"tenant"`
	Interface string `json:"interface"`
	Queue     int    `json:"queue"`
	Bursts    uint64 `json:"bursts"`
	Packets   uint64 `json:"packets"`
	Bytes     uint64 `json:"bytes"`
	// Drops counts the received packets no verdict sent or that could not
	// be sent (dataplane.WorkerStats.Dropped summed).
	Drops      uint64        `json:"drops"`
	EmptyPolls uint64        `json:"empty_polls"`
	Busy       time.Duration `json:"busy_ns"`
	// PacketsPerBurst and NsPerPacket are derived: packets/bursts and
	// busy/packets (0 without packets).
	PacketsPerBurst float64 `json:"packets_per_burst"`
	NsPerPacket     float64 `json:"ns_per_packet"`
}

// PluginRuntime is one plugin, summed over the interface's workers.
type PluginRuntime struct {
	Tenant      string        `json:"tenant"`
	Interface   string        `json:"interface"`
	Plugin      string        `json:"plugin"`
	Calls       uint64        `json:"calls"`
	Packets     uint64        `json:"packets"`
	Faults      uint64        `json:"faults"`
	CallTime    time.Duration `json:"call_ns"`
	NsPerPacket float64       `json:"ns_per_packet"`
}

// RuntimeOf reads the runtime counters out of a snapshot, since the
// daemon started.
func RuntimeOf(s *Snapshot) *Runtime {
	r := &Runtime{Since: s.Started, Workers: []WorkerRuntime{}, Plugins: []PluginRuntime{}}
	for _, t := range s.Tenants {
		for _, in := range t.Interfaces {
			for q, qs := range in.Queues {
				w := WorkerRuntime{Tenant: t.Name, Interface: in.Name, Queue: q, Bursts: qs.RxBursts, Packets: qs.RxPackets,
					Bytes: qs.RxBytes, EmptyPolls: qs.EmptyPolls, Busy: qs.Busy}
				for _, n := range qs.Dropped {
					w.Drops += n
				}
				r.Workers = append(r.Workers, w)
			}
			for _, p := range in.Plugins {
				r.Plugins = append(r.Plugins, PluginRuntime{Tenant: t.Name, Interface: in.Name, Plugin: p.Name,
					Calls: p.Stats.Bursts, Packets: p.Stats.Packets, Faults: p.Stats.Faults, CallTime: p.Stats.CallTime})
			}
		}
	}
	return r
}

// From returns r counted from base on: each counter less base's. A worker
// or plugin whose counters are below base's (it was replaced since) counts
// from zero, as does one base does not have.
func (r *Runtime) From(base *Runtime, now time.Time) *Runtime {
	out := &Runtime{Since: r.Since, Workers: append([]WorkerRuntime{}, r.Workers...), Plugins: append([]PluginRuntime{}, r.Plugins...)}
	if base != nil {
		out.Since = base.Since
		bw := map[[3]string]WorkerRuntime{}
		for _, w := range base.Workers {
			bw[[3]string{w.Tenant, w.Interface, fmt.Sprint(w.Queue)}] = w
		}
		for i := range out.Workers {
			w := &out.Workers[i]
			b, ok := bw[[3]string{w.Tenant, w.Interface, fmt.Sprint(w.Queue)}]
			if ok && b.Bursts <= w.Bursts && b.Packets <= w.Packets && b.EmptyPolls <= w.EmptyPolls && b.Busy <= w.Busy && b.Drops <= w.Drops && b.Bytes <= w.Bytes {
				w.Bursts -= b.Bursts
				w.Packets -= b.Packets
				w.Bytes -= b.Bytes
				w.Drops -= b.Drops
				w.EmptyPolls -= b.EmptyPolls
				w.Busy -= b.Busy
			}
		}
		bp := map[[3]string]PluginRuntime{}
		for _, p := range base.Plugins {
			bp[[3]string{p.Tenant, p.Interface, p.Plugin}] = p
		}
		for i := range out.Plugins {
			p := &out.Plugins[i]
			b, ok := bp[[3]string{p.Tenant, p.Interface, p.Plugin}]
			if ok && b.Calls <= p.Calls && b.Packets <= p.Packets && b.Faults <= p.Faults && b.CallTime <= p.CallTime {
				p.Calls -= b.Calls
				p.Packets -= b.Packets
				p.Faults -= b.Faults
				p.CallTime -= b.CallTime
			}
		}
	}
	for i := range out.Workers {
		w := &out.Workers[i]
		if w.Bursts > 0 {
			w.PacketsPerBurst = float64(w.Packets) / float64(w.Bursts)
		}
		if w.Packets > 0 {
			w.NsPerPacket = float64(w.Busy.Nanoseconds()) / float64(w.Packets)
		}
	}
	for i := range out.Plugins {
		if p := &out.Plugins[i]; p.Packets > 0 {
			p.NsPerPacket = float64(p.CallTime.Nanoseconds()) / float64(p.Packets)
		}
	}
	out.Seconds = now.Sub(out.Since).Seconds()
	return out
}

// Runtime returns the runtime view since the start or the last ClearRuntime.
func (d *Daemon) Runtime() *Runtime {
	s := d.Snapshot()
	d.views.Lock()
	base := d.views.runtimeBase
	d.views.Unlock()
	return RuntimeOf(s).From(base, d.opts.Clock.Now())
}

// ClearRuntime makes the runtime view count from now on. The counters
// themselves (metrics, ctl stats) never go back: Prometheus needs them
// monotonic.
func (d *Daemon) ClearRuntime() time.Time {
	base := RuntimeOf(d.Snapshot())
	base.Since = d.opts.Clock.Now()
	d.views.Lock()
	d.views.runtimeBase = base
	d.views.Unlock()
	return base.Since
}
