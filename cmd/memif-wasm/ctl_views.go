package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/memif-wasm/memif-wasm/host/daemon/admin"
)

func init() {
	register(command{name: "top", summary: "live per-interface and per-plugin rates of a running daemon (ctl top)", run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
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

func addCtlViewFlags(fs *flagSet) *ctlViewFlags {
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
func ctlView(ctx context.Context, c *admin.Client, fs *flagSet, f *ctlViewFlags, cmd string, rest []string, jsonOut bool, stdout, stderr io.Writer) (code int, ok bool) {
	printJSON := func(v any) int {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(v)
		return exitOK
	}
	switch cmd {
	case "trace":
		if len(rest) == 0 {
			return fs.usageError(stderr, "trace needs add, show or clear"), true
		}
		switch sub := rest[0]; {
		case sub == "add" && len(rest) == 3:
			t, i, ok := splitIface(rest[1])
			if !ok {
				return fs.usageError(stderr, "trace add %q: want TENANT/INTERFACE", rest[1]), true
			}
			var n int
			if _, err := fmt.Sscan(rest[2], &n); err != nil || fmt.Sprint(n) != rest[2] {
				return fs.usageError(stderr, "trace add: packet count %q is not a number", rest[2]), true
			}
			if err := c.AddTrace(ctx, t, i, n); err != nil {
				return ctlError(stdout, stderr, jsonOut, err), true
			}
			if jsonOut {
				return printJSON(map[string]int{"tracing": n}), true
			}
			fmt.Fprintf(stdout, "tracing the next %d packets of %s/%s (ctl trace show)\n", n, t, i)
		case sub == "show" && len(rest) == 1:
			views, err := c.Traces(ctx)
			if err != nil {
				return ctlError(stdout, stderr, jsonOut, err), true
			}
			if jsonOut {
				return printJSON(views), true
			}
			admin.WriteTraces(stdout, views)
		case sub == "clear" && len(rest) == 1:
			if err := c.ClearTraces(ctx); err != nil {
				return ctlError(stdout, stderr, jsonOut, err), true
			}
			if jsonOut {
				return printJSON(map[string]bool{"cleared": true}), true
			}
			fmt.Fprintln(stdout, "traces cleared")
		default:
			return fs.usageError(stderr, "trace: want 'add TENANT/IFACE N', 'show' or 'clear'"), true
		}
		return exitOK, true
	case "capture":
		if len(rest) != 1 {
			return fs.usageError(stderr, "capture takes TENANT/INTERFACE"), true
		}
		t, i, ok := splitIface(rest[0])
		if !ok {
			return fs.usageError(stderr, "capture %q: want TENANT/INTERFACE", rest[0]), true
		}
		if !*f.rx && !*f.tx && !*f.drop {
			return fs.usageError(stderr, "capture: give at least one of --rx, --tx, --drop"), true
		}
		if *f.write == "" {
			return fs.usageError(stderr, "capture: -w FILE is required (- for stdout)"), true
		}
		if *f.timeout < 0 {
			return fs.usageError(stderr, "capture: --timeout %v is negative", *f.timeout), true
		}
		var out io.Writer = stdout
		var file *os.File
		if *f.write != "-" {
			var err error
			if file, err = os.Create(*f.write); err != nil {
				fmt.Fprintf(stderr, "memif-wasm ctl: capture: %v\n", err)
				return exitFailure, true
			}
			out = file
		}
		res, err := c.Capture(ctx, t, i, admin.CaptureRequest{Rx: *f.rx, Tx: *f.tx, Drop: *f.drop, Count: *f.count,
			Snaplen: *f.snaplen, TimeoutMS: f.timeout.Milliseconds()}, out)
		if file != nil {
			if cerr := file.Close(); err == nil && cerr != nil {
				err = cerr
			}
		}
		if err != nil {
			if file != nil {
				os.Remove(*f.write) // nothing or a broken file: do not leave it
			}
			return ctlError(stdout, stderr, jsonOut, err), true
		}
		if res.Interrupted {
			fmt.Fprintf(stderr, "memif-wasm ctl: capture interrupted; %s holds the packets captured until then\n", *f.write)
			return exitOK, true
		}
		if *f.write != "-" {
			if jsonOut {
				return printJSON(map[string]any{"file": *f.write, "packets": res.Packets, "lost": res.Lost}), true
			}
			fmt.Fprintf(stdout, "%d packets written to %s", res.Packets, *f.write)
			if res.Lost > 0 {
				fmt.Fprintf(stdout, " (%d lost: the file was written too slowly)", res.Lost)
			}
			fmt.Fprintln(stdout)
		}
		return exitOK, true
	case "runtime", "clear":
		if len(rest) != 0 {
			return fs.usageError(stderr, "%s takes no argument", cmd), true
		}
		if cmd == "clear" {
			since, err := c.ClearRuntime(ctx)
			if err != nil {
				return ctlError(stdout, stderr, jsonOut, err), true
			}
			if jsonOut {
				return printJSON(admin.RuntimeClearReply{Since: since}), true
			}
			fmt.Fprintf(stdout, "runtime counters cleared at %s\n", since.Format(time.RFC3339))
			return exitOK, true
		}
		rt, err := c.Runtime(ctx)
		if err != nil {
			return ctlError(stdout, stderr, jsonOut, err), true
		}
		if jsonOut {
			return printJSON(rt), true
		}
		admin.WriteRuntime(stdout, rt)
		return exitOK, true
	case "top":
		if len(rest) != 0 {
			return fs.usageError(stderr, "top takes no argument"), true
		}
		if *f.interval < 10*time.Millisecond {
			return fs.usageError(stderr, "top: --interval %v is too short (at least 10ms)", *f.interval), true
		}
		return ctlTop(ctx, c, *f.interval, *f.iterations, jsonOut, stdout, stderr), true
	}
	return 0, false
}

// ctlTop prints rates every interval: on a terminal it redraws the screen,
// elsewhere (or with --json) it prints one refresh after the other.
func ctlTop(ctx context.Context, c *admin.Client, interval time.Duration, iterations int, jsonOut bool, stdout, stderr io.Writer) int {
	prev, err := c.Stats(ctx)
	if err != nil {
		return ctlError(stdout, stderr, jsonOut, err)
	}
	last := time.Now()
	redraw := !jsonOut && isTerminal(stdout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for n := 0; iterations == 0 || n < iterations; n++ {
		select {
		case <-ctx.Done():
			return exitOK
		case <-tick.C:
		}
		cur, err := c.Stats(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return exitOK
			}
			return ctlError(stdout, stderr, jsonOut, err)
		}
		now := time.Now()
		top := admin.TopOf(prev, cur, now.Sub(last))
		prev, last = cur, now
		if jsonOut {
			json.NewEncoder(stdout).Encode(top)
			continue
		}
		if redraw {
			io.WriteString(stdout, "\x1b[H\x1b[2J") // home, clear screen
		} else if n > 0 {
			fmt.Fprintln(stdout)
		}
		admin.WriteTop(stdout, top, now)
	}
	return exitOK
}

// splitIface splits TENANT/INTERFACE.
func splitIface(s string) (tenant, iface string, ok bool) {
	tenant, iface, ok = strings.Cut(s, "/")
	if !ok || tenant == "" || iface == "" || strings.Contains(iface, "/") {
		return "", "", false
	}
	return tenant, iface, true
}
