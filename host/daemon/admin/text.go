package admin

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/memif"
)

// Text views of the admin API's answers, as `memif-wasm ctl` prints them.

// WriteTenants writes the interfaces of the tenants as `ctl list` shows
// them: a table of role, socket, link state, placement, egress and pipeline.
func WriteTenants(w io.Writer, ts []Tenant) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tINTERFACE\tROLE\tID\tSOCKET\tUP\tPLACEMENT\tEGRESS\tPIPELINE")
	for _, t := range ts {
		for _, in := range t.Interfaces {
			var names []string
			for _, p := range in.Plugins {
				n := p.Name
				if p.Fault != "" {
					n += "(faulted)"
				}
				names = append(names, n)
			}
			eg := in.Egress
			if eg == "" {
				eg = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", t.Name, in.Name, in.Role, in.ID, in.Socket,
				yesNo(in.Connected), in.Placement, eg, strings.Join(names, " → "))
		}
	}
	tw.Flush()
}

// WriteStats writes a snapshot's counters as `ctl stats` shows them: per
// interface, packets, bytes and drops; per plugin, its verdicts, faults and
// reloads; then the config reloads and the last one that failed, and the
// plugin pulls by result.
func WriteStats(w io.Writer, s *daemon.Snapshot) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	// TX PKTS counts what the interface's workers sent (to any interface);
	// the byte counts are what crossed this interface.
	fmt.Fprintln(tw, "TENANT\tINTERFACE\tRX PKTS\tRX BYTES\tTX PKTS\tTX BYTES\tNOT SENT\tBURSTS\t")
	for _, t := range s.Tenants {
		for _, in := range t.Interfaces {
			var q daemon.QueueStats
			for i := range in.Queues {
				q.Add(&in.Queues[i])
			}
			var drops uint64
			for _, d := range q.Drops {
				drops += d
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", t.Name, in.Name, q.RxPackets, in.Memif.RxBytes, q.TxPackets, in.Memif.TxBytes, drops, q.RxBursts)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "TENANT\tINTERFACE\tPLUGIN\tPACKETS")
	for v := range abi.NumVerdicts {
		fmt.Fprintf(tw, "\t%s", strings.ToUpper(abi.Verdict(v).String()))
	}
	fmt.Fprintln(tw, "\tFAULTS\tFAIL-POLICY PKTS\tRELOADS\t")
	for _, t := range s.Tenants {
		for _, in := range t.Interfaces {
			for _, p := range in.Plugins {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d", t.Name, in.Name, p.Name, p.Stats.Packets)
				for _, n := range p.Stats.Verdicts {
					fmt.Fprintf(tw, "\t%d", n)
				}
				fmt.Fprintf(tw, "\t%d\t%d\t%d\t\n", p.Stats.Faults, p.Stats.FaultPackets, p.Stats.Reloads)
			}
		}
	}
	tw.Flush()
	writeDrops(w, s)
	fmt.Fprintf(w, "\nconfig reloads: %d ok, %d failed\n", s.ConfigReloads["ok"], s.ConfigReloads["failed"])
	if len(s.Pulls) > 0 {
		fmt.Fprint(w, "plugin pulls:")
		sep := " "
		for _, r := range slices.Sorted(maps.Keys(s.Pulls)) {
			fmt.Fprintf(w, "%s%d %s", sep, s.Pulls[r], r)
			sep = ", "
		}
		fmt.Fprintln(w)
	}
	if s.LastReloadError != "" {
		fmt.Fprintf(w, "last failed config reload (%s): %s\n", s.LastReloadErrorAt.Local().Format(time.RFC3339), s.LastReloadError)
	}
}

// writeDrops lists every packet an interface dropped, by reason: the
// DROP and ABORTED verdicts and fail-policy drops of its plugins, and the
// PASS, TX and REDIRECT verdicts that were not sent. Nothing when no
// interface dropped anything.
func writeDrops(w io.Writer, s *daemon.Snapshot) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	any := false
	for _, t := range s.Tenants {
		for _, in := range t.Interfaces {
			row := func(reason string, n uint64) {
				if n > 0 {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", t.Name, in.Name, reason, n)
					any = true
				}
			}
			for _, p := range in.Plugins {
				row("plugin "+p.Name+": drop verdict", p.Stats.Verdicts[abi.Drop])
				row("plugin "+p.Name+": aborted verdict", p.Stats.Verdicts[abi.Aborted])
				if !p.FailOpen { // fail-open passes a faulting burst's packets on
					row("plugin "+p.Name+": fail policy (fault)", p.Stats.FaultPackets)
				}
			}
			var q daemon.QueueStats
			for i := range in.Queues {
				q.Add(&in.Queues[i])
			}
			for r, n := range q.Drops {
				row(daemon.DropName(r)+" not sent", n)
			}
		}
	}
	tw.Flush()
	if any {
		fmt.Fprintf(w, "\nDROPS BY REASON\n%s", b.String())
	}
}

// WriteDetails writes one interface's memif details as `ctl show` shows
// them (as VPP's show memif): peer, regions, and each ring's head and tail.
func WriteDetails(w io.Writer, d *InterfaceDetails) {
	m := d.Memif
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "interface\t%s (id %d, %s, %s)\n", m.Name, m.ID, m.Role, m.Mode)
	fmt.Fprintf(tw, "socket\t%s\n", m.Socket)
	fmt.Fprintf(tw, "connected\t%s\n", yesNo(m.Connected))
	if m.PeerName != "" || m.PeerApp != "" {
		fmt.Fprintf(tw, "peer\t%s (%s)\n", m.PeerName, m.PeerApp)
	} else {
		fmt.Fprintf(tw, "peer\t-\n")
	}
	fmt.Fprintf(tw, "secret\t%s\n", yesNo(m.HasSecret))
	fmt.Fprintf(tw, "placement\t%s\n", d.Stats.Placement)
	if d.Stats.LastError != "" {
		fmt.Fprintf(tw, "last error\t%s\n", d.Stats.LastError)
	}
	tw.Flush()
	if len(m.Regions) > 0 {
		fmt.Fprintln(w, "\nregions:")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  INDEX\tSIZE\tRINGS")
		for _, r := range m.Regions {
			fmt.Fprintf(tw, "  %d\t%d\t%s\n", r.Index, r.Size, yesNo(r.Rings))
		}
		tw.Flush()
	}
	for _, qs := range []struct {
		name  string
		q     []memif.QueueDetails
		stats []memif.QueueStats
	}{{"rx queues", m.RxQueues, d.Stats.Memif.RxQueues}, {"tx queues", m.TxQueues, d.Stats.Memif.TxQueues}} {
		if len(qs.q) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", qs.name)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  QUEUE\tRING\tBUFFER\tRX MODE\tHEAD\tTAIL\tFLAGS\tPACKETS\tBYTES\tRING FULL\tBAD DESC")
		for _, q := range qs.q {
			var st memif.QueueStats
			if q.Index < len(qs.stats) {
				st = qs.stats[q.Index]
			}
			fmt.Fprintf(tw, "  %d\t%d\t%s\t%s\t%d\t%d\t%#x\t%d\t%d\t%d\t%d\n", q.Index, q.RingSize, bufferText(q.BufferSize),
				rxModeText(qs.name, q.Mode), q.Head, q.Tail, q.Flags, st.Packets, st.Bytes, st.RingFull, st.BadDescriptors)
		}
		tw.Flush()
	}
}

// bufferText is a queue's buffer size; a master's buffers are sized by
// its slave, descriptor by descriptor, so it has no one size to show.
func bufferText(n uint16) string {
	if n == 0 {
		return "per-desc"
	}
	return fmt.Sprint(n)
}

func rxModeText(queues string, m memif.RxMode) string {
	if queues != "rx queues" {
		return "-"
	}
	return m.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// WritePipeline writes an interface's pipeline as `memif-wasm demo` shows
// it: per plugin, its packets, verdicts, faults, packets seen in place
// (zero-copy) and bytes copied; each faulting plugin's last fault; and the
// interface's packets and transmit drops by reason.
func WritePipeline(w io.Writer, in *daemon.InterfaceSnapshot) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "plugin\tpackets\taborted\tdrop\tpass\ttx\tredirect\tfaults\tzero-copy\tbytes copied\t\n")
	for _, p := range in.Plugins {
		st := &p.Stats
		var copied uint64
		for _, c := range st.BytesCopied {
			copied += c
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", p.Name, st.Packets,
			st.Verdicts[abi.Aborted], st.Verdicts[abi.Drop], st.Verdicts[abi.Pass], st.Verdicts[abi.TX],
			st.Verdicts[abi.Redirect], st.Faults, st.PacketsPlaced[host.PlacementZeroCopy], copied)
	}
	tw.Flush()
	for _, p := range in.Plugins {
		if p.Fault != "" {
			fmt.Fprintf(w, "plugin %s: %d faults (%d packets got its fail policy), last: %s\n",
				p.Name, p.Stats.Faults, p.Stats.FaultPackets, p.Fault)
		}
	}
	var q daemon.QueueStats
	for i := range in.Queues {
		q.Add(&in.Queues[i])
	}
	var drops []string
	for r, n := range q.Drops {
		if n > 0 {
			drops = append(drops, fmt.Sprintf("%s %d", daemon.DropName(r), n))
		}
	}
	if len(drops) == 0 {
		drops = []string{"none"}
	}
	fmt.Fprintf(w, "interface %s: rx %d packets, tx %d packets, tx drops: %s\n",
		in.Name, q.RxPackets, q.TxPackets, strings.Join(drops, ", "))
}

// ErrNotFoundHere is returned by FilterSnapshot for a name the snapshot
// does not hold.
var ErrNotFoundHere = errors.New("admin: no such interface")

// FilterSnapshot keeps only interface tenant/iface of s (with its tenant);
// daemon-wide counters stay.
func FilterSnapshot(s *daemon.Snapshot, tenant, iface string) (*daemon.Snapshot, error) {
	out := *s
	out.Tenants = nil
	for _, t := range s.Tenants {
		for _, in := range t.Interfaces {
			if t.Name == tenant && in.Name == iface {
				tt := t
				tt.Interfaces = []daemon.InterfaceSnapshot{in}
				out.Tenants = append(out.Tenants, tt)
				return &out, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: %s/%s", ErrNotFoundHere, tenant, iface)
}
