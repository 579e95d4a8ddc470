package admin

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/host/dataplane"
)

// WriteTraces writes traces as `ctl trace show` prints them, one block per
// packet as VPP's `show trace` does: where and when it arrived, its
// headers, each plugin's verdict, length change and call time, and the
// port it left by or why it was dropped.
func WriteTraces(w io.Writer, views []daemon.TraceView) {
	if len(views) == 0 {
		fmt.Fprintln(w, "no trace (ctl trace add TENANT/IFACE N)")
		return
	}
	for _, v := range views {
		fmt.Fprintf(w, "%s/%s: %d packets traced", v.Tenant, v.Interface, len(v.Packets))
		if v.Pending > 0 {
			fmt.Fprintf(w, ", %d more awaited", v.Pending)
		}
		fmt.Fprintln(w)
		for n, p := range v.Packets {
			fmt.Fprintf(w, "\nPacket %d  %s  queue %d  len %d\n", n+1, p.Time.Format("15:04:05.000000"), p.Queue, p.Len)
			for _, h := range p.Headers {
				fmt.Fprintf(w, "  %s\n", h)
			}
			for _, s := range p.Stages {
				change := fmt.Sprintf("len %d", s.LenOut)
				if s.LenIn != s.LenOut {
					change = fmt.Sprintf("len %d -> %d", s.LenIn, s.LenOut)
				}
				fault := ""
				if s.Faulted {
					fault = " (fail policy: the plugin faulted, awaits a restart or is quarantined)"
				}
				fmt.Fprintf(w, "  plugin %s: %s, %s, call %v for %d packets%s\n", s.Plugin, s.Verdict, change, s.Took, s.CallPackets, fault)
			}
			if p.Drop != "" {
				fmt.Fprintf(w, "  dropped: %s\n", p.Drop)
			} else {
				fmt.Fprintf(w, "  sent: %s, len %d\n", p.Egress, p.LenOut)
			}
		}
	}
}

// WriteRuntime writes the runtime view as `ctl runtime` prints it, as VPP's
// `show runtime` does: per worker, bursts, packets per burst, busy time,
// empty polls and ns per packet; per plugin, calls, packets and ns per
// packet.
func WriteRuntime(w io.Writer, r *daemon.Runtime) {
	fmt.Fprintf(w, "Time %.1fs since %s\n", r.Seconds, r.Since.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TENANT\tINTERFACE\tQUEUE\tBURSTS\tPACKETS\tPKTS/BURST\tBUSY\tEMPTY POLLS\tNS/PKT\tDROPS\t")
	for _, wr := range r.Workers {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.2f\t%v\t%d\t%.1f\t%d\t\n", wr.Tenant, wr.Interface, wr.Queue, wr.Bursts, wr.Packets,
			wr.PacketsPerBurst, wr.Busy.Round(time.Microsecond), wr.EmptyPolls, wr.NsPerPacket, wr.Drops)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TENANT\tINTERFACE\tPLUGIN\tCALLS\tPACKETS\tCALL TIME\tNS/PKT\tFAULTS\t")
	for _, p := range r.Plugins {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%v\t%.1f\t%d\t\n", p.Tenant, p.Interface, p.Plugin, p.Calls, p.Packets,
			p.CallTime.Round(time.Microsecond), p.NsPerPacket, p.Faults)
	}
	tw.Flush()
}

// Top is one refresh of `ctl top`: rates between two snapshots.
type Top struct {
	Seconds    float64        `json:"seconds"`
	Interfaces []TopInterface `json:"interfaces"`
	Plugins    []TopPlugin    `json:"plugins"`
}

// TopInterface is one interface's rates.
type TopInterface struct {
	Tenant        string  `json:"tenant"`
	Interface     string  `json:"interface"`
	Up            bool    `json:"up"`
	RxPacketsPerS float64 `json:"rx_packets_per_second"`
	RxBytesPerS   float64 `json:"rx_bytes_per_second"`
	TxPacketsPerS float64 `json:"tx_packets_per_second"`
	TxBytesPerS   float64 `json:"tx_bytes_per_second"`
	// DropsPerS are the drops by reason (dataplane's rx and tx drop
	// reasons), per second; only reasons that occurred.
	DropsPerS   map[string]float64 `json:"drops_per_second"`
	NsPerPacket float64            `json:"ns_per_packet"`
}

// TopPlugin is one plugin's rates.
type TopPlugin struct {
	Tenant       string  `json:"tenant"`
	Interface    string  `json:"interface"`
	Plugin       string  `json:"plugin"`
	PacketsPerS  float64 `json:"packets_per_second"`
	CallsPerS    float64 `json:"calls_per_second"`
	Faults       uint64  `json:"faults"`
	NsPerPacket  float64 `json:"ns_per_packet"`
	Quarantined  bool    `json:"quarantined"`
	DropsPerS    float64 `json:"drops_per_second"`
	AbortedPerS  float64 `json:"aborted_per_second"`
	FailedPerS   float64 `json:"fail_policy_packets_per_second"`
	FaultedState string  `json:"fault,omitempty"`
}

// TopOf computes the rates between prev and cur, dt apart. An interface or
// plugin that prev lacks, or whose counters went back (it was replaced),
// is rated from zero over dt.
func TopOf(prev, cur *daemon.Snapshot, dt time.Duration) *Top {
	sec := dt.Seconds()
	if sec <= 0 {
		sec = 1
	}
	per := func(a, b uint64) float64 {
		if b < a {
			a = 0
		}
		return float64(b-a) / sec
	}
	type ifKey struct{ t, i string }
	prevIf := map[ifKey]*daemon.InterfaceSnapshot{}
	prevPl := map[[3]string]*daemon.PluginSnapshot{}
	if prev != nil {
		for _, t := range prev.Tenants {
			for k := range t.Interfaces {
				in := &t.Interfaces[k]
				prevIf[ifKey{t.Name, in.Name}] = in
				for j := range in.Plugins {
					prevPl[[3]string{t.Name, in.Name, in.Plugins[j].Name}] = &in.Plugins[j]
				}
			}
		}
	}
	top := &Top{Seconds: dt.Seconds(), Interfaces: []TopInterface{}, Plugins: []TopPlugin{}}
	for _, t := range cur.Tenants {
		for _, in := range t.Interfaces {
			var q, pq daemon.QueueStats
			for i := range in.Queues {
				q.Add(&in.Queues[i])
			}
			var pm = in.Memif
			pm.RxBytes, pm.TxBytes = 0, 0
			if p := prevIf[ifKey{t.Name, in.Name}]; p != nil {
				for i := range p.Queues {
					pq.Add(&p.Queues[i])
				}
				pm = p.Memif
			}
			ti := TopInterface{Tenant: t.Name, Interface: in.Name, Up: in.Connected,
				RxPacketsPerS: per(pq.RxPackets, q.RxPackets), RxBytesPerS: per(pm.RxBytes, in.Memif.RxBytes),
				TxPacketsPerS: per(pq.TxPackets, q.TxPackets), TxBytesPerS: per(pm.TxBytes, in.Memif.TxBytes),
				DropsPerS: map[string]float64{}}
			for r := range dataplane.NumRxDropReasons {
				if v := per(pq.RxDrops[r], q.RxDrops[r]); v > 0 {
					ti.DropsPerS[r.String()] = v
				}
			}
			for r := range dataplane.NumTxDropReasons {
				if v := per(pq.TxDrops[r], q.TxDrops[r]); v > 0 {
					ti.DropsPerS[r.String()] = v
				}
			}
			if dp := q.RxPackets - pq.RxPackets; q.RxPackets >= pq.RxPackets && dp > 0 && q.Busy >= pq.Busy {
				ti.NsPerPacket = float64((q.Busy - pq.Busy).Nanoseconds()) / float64(dp)
			}
			top.Interfaces = append(top.Interfaces, ti)
			for _, p := range in.Plugins {
				var ps daemon.PluginSnapshot
				if o := prevPl[[3]string{t.Name, in.Name, p.Name}]; o != nil && o.Stats.Packets <= p.Stats.Packets {
					ps = *o
				}
				tp := TopPlugin{Tenant: t.Name, Interface: in.Name, Plugin: p.Name,
					PacketsPerS: per(ps.Stats.Packets, p.Stats.Packets), CallsPerS: per(ps.Stats.Bursts, p.Stats.Bursts),
					Faults: p.Stats.Faults - min(ps.Stats.Faults, p.Stats.Faults), Quarantined: p.Stats.Quarantined > 0,
					DropsPerS:   per(ps.Stats.Verdicts[abi.Drop], p.Stats.Verdicts[abi.Drop]),
					AbortedPerS: per(ps.Stats.Verdicts[abi.Aborted], p.Stats.Verdicts[abi.Aborted]),
					FailedPerS:  per(ps.Stats.FaultPackets, p.Stats.FaultPackets), FaultedState: p.Fault}
				if dp := p.Stats.Packets - ps.Stats.Packets; dp > 0 && p.Stats.CallTime >= ps.Stats.CallTime {
					tp.NsPerPacket = float64((p.Stats.CallTime - ps.Stats.CallTime).Nanoseconds()) / float64(dp)
				}
				top.Plugins = append(top.Plugins, tp)
			}
		}
	}
	return top
}

// WriteTop writes one refresh of `ctl top`.
func WriteTop(w io.Writer, t *Top, at time.Time) {
	fmt.Fprintf(w, "memif-wasm top  %s  (rates over %.1fs)\n\n", at.Format("15:04:05"), t.Seconds)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TENANT\tINTERFACE\tUP\tRX PPS\tRX B/S\tTX PPS\tTX B/S\tNS/PKT\tDROPS/S\t")
	for _, i := range t.Interfaces {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%s\t%.0f\t%s\t%.1f\t%s\t\n", i.Tenant, i.Interface, yesNo(i.Up), i.RxPacketsPerS,
			si(i.RxBytesPerS), i.TxPacketsPerS, si(i.TxBytesPerS), i.NsPerPacket, drops(i.DropsPerS))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TENANT\tINTERFACE\tPLUGIN\tPKTS/S\tCALLS/S\tNS/PKT\tDROP/S\tABORTED/S\tFAULTS\tSTATE\t")
	for _, p := range t.Plugins {
		state := "ok"
		switch {
		case p.Quarantined:
			state = "quarantined"
		case p.FaultedState != "":
			state = "faulted"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%.0f\t%.1f\t%.0f\t%.0f\t%d\t%s\t\n", p.Tenant, p.Interface, p.Plugin, p.PacketsPerS,
			p.CallsPerS, p.NsPerPacket, p.DropsPerS, p.AbortedPerS, p.Faults, state)
	}
	tw.Flush()
}

// drops lists drop rates by reason, "-" for none.
func drops(m map[string]float64) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, r := range []string{"drop", "aborted", "fail_closed", "pipeline_closed", "no_egress", "link_down", "ring_full", "too_big"} {
		if v, ok := m[r]; ok {
			parts = append(parts, fmt.Sprintf("%s=%.0f", r, v))
		}
	}
	return strings.Join(parts, " ")
}

// si prints a rate with a metric prefix.
func si(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
