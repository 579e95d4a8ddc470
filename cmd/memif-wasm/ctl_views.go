package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/host/daemon/admin"
)

func init() {
	program.Register(cli.Command{Name: "top", Summary: "live per-interface and per-plugin rates of a running daemon (ctl top)", Run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		return ctlMain(ctx, append(args, "top"), stdout, stderr)
	}})
}

// ctlViewsHelp lists the view commands for ctl's description.
const ctlViewsHelp = `  trace add TENANT/IFACE N          trace the next N received packets (as VPP's trace add)
  trace show                        traced packets: headers, each plugin's verdict, length and time, egress
  trace clear                       stop every trace and forget it
  capture TENANT/IFACE              write a pcapng capture: --rx --tx --drop, --count N, --snaplen S, -w FILE
                                    (- for stdout), --timeout; one interface per direction, the verdict
                                    or drop reason as each packet's comment
  runtime                           per worker: bursts, packets/burst, busy time, empty polls, ns/packet;
                                    per plugin: calls, packets, ns/packet (since the start or ctl clear)
  clear                             zero the runtime view's counters (metrics and stats keep counting)
  top                               rates per interface and plugin, refreshed every --interval
                                    (--json: one object per refresh)`

const ctlViewsExamples = `memif-wasm ctl trace add default/memif0 10
memif-wasm ctl trace show
memif-wasm ctl capture default/memif0 --rx --tx --drop --count 1000 -w /tmp/memif0.pcapng
memif-wasm ctl capture default/memif0 --drop --count 100 -w - | tshark -r - -T fields -e frame.comment
memif-wasm ctl runtime
memif-wasm ctl clear
memif-wasm top --interval 2s`

// ctlViewFlags are ctl's flags for the views.
type ctlViewFlags struct {
	rx, tx, drop *bool
	count        *int
	snaplen      *int
	write        *string
	timeout      *time.Duration
	interval     *time.Duration
	iterations   *int
}

func addCtlViewFlags(fs *cli.FlagSet) *ctlViewFlags {
	return &ctlViewFlags{
		rx:         fs.Bool("rx", false, "capture: packets received on the interface, as received"),
		tx:         fs.Bool("tx", false, "capture: packets sent out of the interface, as sent"),
		drop:       fs.Bool("drop", false, "capture: received packets that were dropped, with the reason"),
		count:      fs.Int("count", 100, "capture: packets to capture in all"),
		snaplen:    fs.Int("snaplen", 0, "capture: bytes kept of each packet (default: all, up to 65535)"),
		write:      fs.StringP("write", "w", "", "capture: pcapng file to write, - for stdout (required)"),
		timeout:    fs.Duration("timeout", 0, "capture: stop after this long even if --count was not reached (default: none)"),
		interval:   fs.Duration("interval", time.Second, "top: refresh interval"),
		iterations: fs.IntP("iterations", "n", 0, "top: refreshes to print, then exit (default: until interrupted)"),
	}
}

// ctlView runs a view command; ok is false when cmd is not one.
func ctlView(ctx context.Context, c *admin.Client, fs *cli.FlagSet, f *ctlViewFlags, cmd string, rest []string, jsonOut bool, stdout, stderr io.Writer) (code int, ok bool) {
	switch cmd {
	case "trace":
		if len(rest) == 0 {
			return fs.UsageError(stderr, "trace needs add, show or clear"), true
		}
		switch sub := rest[0]; {
		case sub == "add" && len(rest) == 3:
			p, ok := admin.SplitPath(rest[1], 2)
			if !ok {
				return fs.UsageError(stderr, "trace add %q: want TENANT/INTERFACE", rest[1]), true
			}
			var n int
			if _, err := fmt.Sscan(rest[2], &n); err != nil || fmt.Sprint(n) != rest[2] {
				return fs.UsageError(stderr, "trace add: packet count %q is not a number", rest[2]), true
			}
			t, i := p[0], p[1]
			if err := c.AddTrace(ctx, t, i, n); err != nil {
				return ctlError(stdout, stderr, jsonOut, err), true
			}
			if jsonOut {
				return cli.PrintJSON(stdout, map[string]int{"tracing": n}), true
			}
			fmt.Fprintf(stdout, "tracing the next %d packets of %s/%s (ctl trace show)\n", n, t, i)
		case sub == "show" && len(rest) == 1:
			views, err := c.Traces(ctx)
			if err != nil {
				return ctlError(stdout, stderr, jsonOut, err), true
			}
			if jsonOut {
				return cli.PrintJSON(stdout, views), true
			}
			admin.WriteTraces(stdout, views)
		case sub == "clear" && len(rest) == 1:
			if err := c.ClearTraces(ctx); err != nil {
				return ctlError(stdout, stderr, jsonOut, err), true
			}
			if jsonOut {
				return cli.PrintJSON(stdout, map[string]bool{"cleared": true}), true
			}
			fmt.Fprintln(stdout, "traces cleared")
		default:
			return fs.UsageError(stderr, "trace: want 'add TENANT/IFACE N', 'show' or 'clear'"), true
		}
		return cli.ExitOK, true
	case "capture":
		if len(rest) != 1 {
			return fs.UsageError(stderr, "capture takes TENANT/INTERFACE"), true
		}
		p, ok := admin.SplitPath(rest[0], 2)
		if !ok {
			return fs.UsageError(stderr, "capture %q: want TENANT/INTERFACE", rest[0]), true
		}
		t, i := p[0], p[1]
		if !*f.rx && !*f.tx && !*f.drop {
			return fs.UsageError(stderr, "capture: give at least one of --rx, --tx, --drop"), true
		}
		if *f.write == "" {
			return fs.UsageError(stderr, "capture: -w FILE is required (- for stdout)"), true
		}
		if *f.timeout < 0 {
			return fs.UsageError(stderr, "capture: --timeout %v is negative", *f.timeout), true
		}
		res, err := c.CaptureFile(ctx, t, i, admin.CaptureRequest{Rx: *f.rx, Tx: *f.tx, Drop: *f.drop, Count: *f.count,
			Snaplen: *f.snaplen, TimeoutMS: f.timeout.Milliseconds()}, *f.write, stdout)
		if err != nil {
			return ctlError(stdout, stderr, jsonOut, err), true
		}
		if res.Interrupted {
			fmt.Fprintf(stderr, "memif-wasm ctl: capture interrupted; %s holds the packets captured until then\n", *f.write)
			return cli.ExitOK, true
		}
		if *f.write != "-" {
			if jsonOut {
				return cli.PrintJSON(stdout, map[string]any{"file": *f.write, "packets": res.Packets, "lost": res.Lost}), true
			}
			fmt.Fprintf(stdout, "%d packets written to %s", res.Packets, *f.write)
			if res.Lost > 0 {
				fmt.Fprintf(stdout, " (%d lost: the file was written too slowly)", res.Lost)
			}
			fmt.Fprintln(stdout)
		}
		return cli.ExitOK, true
	case "runtime", "clear":
		if len(rest) != 0 {
			return fs.UsageError(stderr, "%s takes no argument", cmd), true
		}
		if cmd == "clear" {
			since, err := c.ClearRuntime(ctx)
			if err != nil {
				return ctlError(stdout, stderr, jsonOut, err), true
			}
			if jsonOut {
				return cli.PrintJSON(stdout, admin.RuntimeClearReply{Since: since}), true
			}
			fmt.Fprintf(stdout, "runtime counters cleared at %s\n", since.Format(time.RFC3339))
			return cli.ExitOK, true
		}
		rt, err := c.Runtime(ctx)
		if err != nil {
			return ctlError(stdout, stderr, jsonOut, err), true
		}
		if jsonOut {
			return cli.PrintJSON(stdout, rt), true
		}
		admin.WriteRuntime(stdout, rt)
		return cli.ExitOK, true
	case "top":
		if len(rest) != 0 {
			return fs.UsageError(stderr, "top takes no argument"), true
		}
		if *f.interval < 10*time.Millisecond {
			return fs.UsageError(stderr, "top: --interval %v is too short (at least 10ms)", *f.interval), true
		}
		if err := c.Top(ctx, *f.interval, *f.iterations, jsonOut, !jsonOut && isTerminal(stdout), stdout); err != nil {
			return ctlError(stdout, stderr, jsonOut, err), true
		}
		return cli.ExitOK, true
	}
	return 0, false
}
