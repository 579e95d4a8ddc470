package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"sync"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/memif/gen"
)

func init() {
	program.Register(cli.Command{Name: "gen", Summary: "traffic generator and sink against any memif peer", Run: genMain})
}

const genUsage = "memif-wasm gen --socket PATH --role master|slave --id N [--rx-id N] [--rate PPS] [--count N | --duration D] [--size BYTES] [--json]"

const genDescription = `Sends sequence-numbered, timestamped Ethernet/IPv4 frames to a memif peer and counts
what comes back: loss, duplicates, reordering and latency percentiles. By default it
counts on the interface it sends on (for reflectors such as macswap or icmp-responder);
with --rx-id it counts on a second interface of the same socket (for forwarders). It
waits for the link before it sends and fails if the peer stops taking frames. A link
that drops at any point is waited for (--link-timeout before the first frame, --stall
after) and sending resumes where each queue stopped: frames the drop took down count as
lost, and the report gives the drops and the time the link was down. Ctrl-C ends an
endless run with a report.`

const genExamples = `# 1000 frames against a memif-wasm host running macswap as master on /tmp/memif.sock
memif-wasm gen --socket /tmp/memif.sock --role slave --id 0 --count 1000
# 10 s at 100 kpps, 1500-byte frames over 2 queues, as master, report as JSON
memif-wasm gen --socket /tmp/memif.sock --role master --queues 2 --rate 100000 --duration 10s --size 1500 --json
# ICMP echo requests for icmp-responder
memif-wasm gen --socket /tmp/memif.sock --proto icmp --count 100
# a forwarding peer: send on interface 0, count on interface 1
memif-wasm gen --socket /tmp/memif.sock --id 0 --rx-id 1 --duration 5s`

// genReport is gen's --json output: the report and, if the run failed, why.
type genReport struct {
	gen.Report
	Error string `json:"error,omitempty"`
}

func genMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("memif-wasm gen", genUsage, genDescription, genExamples)
	logFormat := logFormatFlag(fs)
	socket := fs.String("socket", "", "memif control socket path (@name: abstract namespace) (required)")
	role := fs.String("role", "slave", "gen's side: master (listens) or slave (connects)")
	id := fs.Uint32("id", 0, "memif interface id to send on (and count on, without --rx-id)")
	rxID := fs.Uint32("rx-id", 0, "count returning frames on this second interface id instead")
	rate := fs.Float64("rate", 0, "frames per second over all queues (0: as fast as the peer takes them)")
	count := fs.Uint64("count", 0, "frames to send (default: until --duration or Ctrl-C)")
	duration := fs.Duration("duration", 0, "how long to send, e.g. 10s (default: until --count or Ctrl-C)")
	size := fs.Int("size", gen.DefaultSize, fmt.Sprintf("frame size in bytes, %d..%d", gen.MinSize, gen.MaxSize))
	flows := fs.Int("flows", 1, "distinct flows (UDP source ports or ICMP identifiers)")
	queues := fs.Int("queues", 1, "queue pairs; each transmit queue sends its own sequence")
	burst := fs.Int("burst", gen.DefaultBurst, "most frames handed to the ring at once")
	proto := fs.String("proto", "udp", "frame type: udp, or icmp (echo requests, for icmp-responder)")
	secret := fs.String("secret", "", "memif secret")
	ringSize := fs.Int("ring-size", 1024, "ring slots as slave, a power of two 2..16384")
	bufSize := fs.Uint16("buffer-size", 0, "buffer size in bytes as slave (default 2048)")
	rxMode := fs.String("rx-mode", "interrupt", "how returning frames are noticed: interrupt, polling or adaptive")
	linkTimeout := fs.Duration("link-timeout", gen.DefaultLinkTimeout, "how long to wait for the peer (also after a drop before the first frame)")
	settle := fs.Duration("settle", 0, "wait this long after link up before sending (1s for a DPDK client peer)")
	drain := fs.Duration("drain", gen.DefaultDrain, "how long to wait for frames in flight after the last one was sent")
	stall := fs.Duration("stall", gen.DefaultStall, "fail when the peer takes no frame, or the link stays down, for this long")
	jsonOut := fs.Bool("json", false, "print the report as JSON on stdout (no progress line)")
	quiet := fs.Bool("quiet", false, "no live progress line")
	if code, done := fs.ParseNoArgs(args, stdout, stderr); done {
		return code
	}
	logger, ok := warnLogger(*logFormat, stderr)
	if !ok {
		return fs.UsageError(stderr, "--log-format %q: want text or json", *logFormat)
	}
	if *socket == "" {
		return fs.UsageError(stderr, "--socket is required")
	}
	if fs.Changed("count") && fs.Changed("duration") {
		return fs.UsageError(stderr, "--count and --duration exclude each other")
	}
	if fs.Changed("count") && *count == 0 {
		return fs.UsageError(stderr, "--count 0: want at least one frame")
	}
	if fs.Changed("duration") && *duration <= 0 {
		return fs.UsageError(stderr, "--duration %v: want a positive duration", *duration)
	}
	cfg := gen.Config{
		Socket: *socket, ID: *id, SeparateRx: fs.Changed("rx-id"), RxID: *rxID,
		Secret: *secret, Queues: *queues, BufferSize: *bufSize,
		Rate: *rate, Count: *count, Duration: *duration, Size: *size, Flows: *flows,
		Burst: *burst, LinkTimeout: *linkTimeout, Settle: *settle, Drain: *drain, Stall: *stall,
	}
	if n := *ringSize; n < 2 || n > 1<<14 || n&(n-1) != 0 {
		return fs.UsageError(stderr, "--ring-size %d: want a power of two 2..16384", n)
	}
	cfg.Log2RingSize = uint8(bits.Len(uint(*ringSize)) - 1)
	var err error
	if err = cfg.Role.UnmarshalText([]byte(*role)); err != nil {
		return fs.UsageError(stderr, "--role: %v", err)
	}
	if err = cfg.RxMode.UnmarshalText([]byte(*rxMode)); err != nil {
		return fs.UsageError(stderr, "--rx-mode: %v", err)
	}
	if cfg.Proto, err = gen.ParseProto(*proto); err != nil {
		return fs.UsageError(stderr, "--proto: %v", err)
	}
	cfg.Logger = logger

	live := !*jsonOut && !*quiet && isTerminal(stderr)
	var mu sync.Mutex // the progress goroutine and the final newline
	if live {
		cfg.Progress = func(p gen.Progress) {
			mu.Lock()
			fmt.Fprintf(stderr, "\r%s\x1b[K", gen.ProgressLine(p))
			mu.Unlock()
		}
	}
	rep, err := gen.Run(ctx, cfg)
	if live {
		mu.Lock()
		fmt.Fprint(stderr, "\r\x1b[K")
		mu.Unlock()
	}
	if *jsonOut {
		out := genReport{Report: rep}
		if err != nil {
			out.Error = err.Error()
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(out); jerr != nil {
			fmt.Fprintf(stderr, "memif-wasm gen: write report: %v\n", jerr)
			return cli.ExitFailure
		}
	} else if rep.Sent > 0 || rep.Received > 0 {
		rep.WriteText(stdout)
	}
	if err != nil {
		return cli.Fail(stderr, "memif-wasm gen", err)
	}
	return cli.ExitOK
}
