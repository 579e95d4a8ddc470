package gen

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a run. JSON field names are stable for scripts.
type Report struct {
	// Sent and SentBytes count frames published to the transmit ring(s).
	Sent      uint64 `json:"sent"`
	SentBytes uint64 `json:"sent_bytes"`
	// Received and ReceivedBytes count every frame that arrived, ours or not.
	Received      uint64 `json:"received"`
	ReceivedBytes uint64 `json:"received_bytes"`
	// Unique frames of this run arrived at least once; Lost = Sent - Unique - Late.
	Unique     uint64 `json:"unique"`
	Lost       uint64 `json:"lost"`
	Duplicates uint64 `json:"duplicates"`
	// Reordered frames arrived after a frame of the same queue with a higher sequence.
	Reordered uint64 `json:"reordered"`
	// Late frames arrived more than a million frames behind the newest of their
	// queue: too late to tell a duplicate from a first arrival.
	// They count neither as Unique nor as Lost.
	Late uint64 `json:"late"`
	// Foreign frames did not carry this run's header (or named a queue it lacks).
	Foreign uint64 `json:"foreign"`
	// TxRingFull counts the times gen found the transmit ring full (the peer had not
	// emptied it) and had to wait.
	TxRingFull uint64 `json:"tx_ring_full"`
	// TxBursts counts the bursts published (each one index update and, unless the
	// peer polls, one signal); RxBursts the non-empty receive bursts; RxEmpty the
	// receive polls that found nothing (in interrupt mode each is followed by a
	// wait for the peer's signal). Frames per burst on each side tell how well
	// the run amortised its per-burst costs.
	TxBursts uint64 `json:"tx_bursts"`
	RxBursts uint64 `json:"rx_bursts"`
	RxEmpty  uint64 `json:"rx_empty_polls"`
	// ProcessCPU is the CPU time the whole process (every thread: gen's, and
	// those of anything else running in it, such as an in-process host) used
	// from the first frame to the end of the drain; 0 where the platform
	// cannot tell. Divided by Sent, it is a cost per frame that depends
	// little on how busy other processes keep the machine.
	ProcessCPU time.Duration `json:"process_cpu_ns"`
	// SendTime is how long sending took; Elapsed includes the drain.
	SendTime time.Duration `json:"send_time_ns"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	// TxRate and RxRate are frames per second over SendTime.
	TxRate float64 `json:"tx_pps"`
	RxRate float64 `json:"rx_pps"`
	// TxBitRate is bits per second of frame bytes over SendTime.
	TxBitRate float64 `json:"tx_bps"`
	// Latency is from queueing a frame to receiving it, over the frames of this run.
	Latency Latency `json:"latency_ns"`
	// Queues is the number of transmit queues that sent at least one frame.
	Queues int `json:"queues"`
	// LinkDrops counts the times the link went down after it first came up (with
	// SeparateRx, either interface's); LinkDown is the time it spent down. Both
	// SendTime and Elapsed include that time, and so do the rates over SendTime.
	LinkDrops uint64        `json:"link_drops"`
	LinkDown  time.Duration `json:"link_down_ns"`
}

// Latency summarises round-trip times. Percentiles are upper bounds within 3%.
type Latency struct {
	Min  time.Duration `json:"min"`
	Mean time.Duration `json:"mean"`
	P50  time.Duration `json:"p50"`
	P90  time.Duration `json:"p90"`
	P99  time.Duration `json:"p99"`
	P999 time.Duration `json:"p999"`
	Max  time.Duration `json:"max"`
}

func (r *run) report(sendTime, elapsed time.Duration) Report {
	rep := Report{SendTime: sendTime, Elapsed: elapsed}
	rep.LinkDrops, rep.LinkDown = r.link.stats(time.Now())
	for _, s := range r.senders {
		if n := s.sent.Load(); n > 0 {
			rep.Sent += n
			rep.Queues++
		}
		rep.SentBytes += s.bytes.Load()
		rep.TxRingFull += s.full.Load()
		rep.TxBursts += s.bursts.Load()
	}
	k := r.sink
	k.mu.Lock()
	defer k.mu.Unlock()
	rep.Received, rep.ReceivedBytes = k.frames, k.bytes
	rep.Foreign = k.foreign + k.badQueue
	rep.RxBursts, rep.RxEmpty = k.bursts, k.waits
	for _, t := range k.trackers {
		rep.Unique += t.unique
		rep.Duplicates += t.dups
		rep.Reordered += t.reord
		rep.Late += t.late
	}
	if acc := rep.Unique + rep.Late; acc < rep.Sent {
		rep.Lost = rep.Sent - acc
	}
	if s := sendTime.Seconds(); s > 0 {
		rep.TxRate = float64(rep.Sent) / s
		rep.RxRate = float64(k.ours) / s
		rep.TxBitRate = float64(rep.SentBytes) * 8 / s
	}
	h := &k.lat
	if h.n > 0 {
		rep.Latency = Latency{
			Min: time.Duration(h.min), Mean: time.Duration(h.sum / h.n),
			P50: time.Duration(h.quantile(0.50)), P90: time.Duration(h.quantile(0.90)),
			P99: time.Duration(h.quantile(0.99)), P999: time.Duration(h.quantile(0.999)),
			Max: time.Duration(h.max),
		}
	}
	return rep
}

// WriteText writes the report as a table for people.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("sent", fmt.Sprintf("%d frames, %d bytes in %v (%s, %s)", r.Sent, r.SentBytes,
		r.SendTime.Round(time.Millisecond), Rate(r.TxRate, "pps"), Rate(r.TxBitRate, "bit/s")))
	row("received", fmt.Sprintf("%d frames, %d bytes (%s)", r.Received, r.ReceivedBytes, Rate(r.RxRate, "pps")))
	row("lost", fmt.Sprintf("%d (%.3f%%)", r.Lost, percent(r.Lost, r.Sent)))
	row("duplicates", fmt.Sprint(r.Duplicates))
	row("reordered", fmt.Sprint(r.Reordered))
	if r.Late > 0 {
		row("late", fmt.Sprint(r.Late))
	}
	row("foreign", fmt.Sprint(r.Foreign))
	row("tx ring full", fmt.Sprintf("%d times", r.TxRingFull))
	if r.LinkDrops > 0 || r.LinkDown > 0 {
		row("link drops", fmt.Sprintf("%d (down %v in total)", r.LinkDrops, r.LinkDown.Round(time.Millisecond)))
	} else {
		row("link drops", "0")
	}
	l := r.Latency
	if r.Unique > 0 {
		row("latency", fmt.Sprintf("min %v  mean %v  p50 %v  p90 %v  p99 %v  p99.9 %v  max %v",
			us(l.Min), us(l.Mean), us(l.P50), us(l.P90), us(l.P99), us(l.P999), us(l.Max)))
	}
	return tw.Flush()
}

// ProgressLine formats p as one short line for a terminal.
func ProgressLine(p Progress) string {
	s := p.Elapsed.Seconds()
	var b strings.Builder
	fmt.Fprintf(&b, "%6.1fs  sent %d  received %d", s, p.Sent, p.Received)
	if s > 0 {
		fmt.Fprintf(&b, "  (%s)", Rate(float64(p.Received)/s, "pps"))
	}
	if p.Sent > p.Received {
		fmt.Fprintf(&b, "  in flight or lost %d", p.Sent-p.Received)
	}
	if p.Foreign > 0 {
		fmt.Fprintf(&b, "  foreign %d", p.Foreign)
	}
	if p.LinkDrops > 0 {
		fmt.Fprintf(&b, "  link drops %d", p.LinkDrops)
	}
	if p.LinkDown {
		b.WriteString("  LINK DOWN")
	}
	return b.String()
}

// Rate formats v with a k/M/G prefix.
func Rate(v float64, unit string) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2f G%s", v/1e9, unit)
	case v >= 1e6:
		return fmt.Sprintf("%.2f M%s", v/1e6, unit)
	case v >= 1e3:
		return fmt.Sprintf("%.2f k%s", v/1e3, unit)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}

func percent(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func us(d time.Duration) string {
	if d < time.Microsecond {
		return d.String()
	}
	return d.Round(100 * time.Nanosecond).String()
}
