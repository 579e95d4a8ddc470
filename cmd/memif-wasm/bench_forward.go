package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/memif-wasm/memif-wasm/host/daemon/bench"
	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/gen"
)

// forwardFlags are bench's flags as --forward reads them.
type forwardFlags struct {
	jsonOut              bool
	time                 time.Duration
	timeSet              bool
	repeat               int
	sizes                string
	sizesSet             bool
	handlers             string
	handlersSet          bool
	pluginsDir, cacheDir string
	rates, rxModes       string
	rxDelay              time.Duration
	search, testpmd      bool
	exe                  string // --exe: the binary to run ("": this one)
}

func benchForward(ctx context.Context, fs *flagSet, stdout, stderr io.Writer, f forwardFlags) int {
	size := 64
	if f.sizesSet {
		sizes, err := parseIntList("--sizes", f.sizes, gen.MinSize, 9000)
		if err != nil || len(sizes) != 1 {
			return fs.usageError(stderr, "--forward takes one --sizes value")
		}
		size = sizes[0]
	}
	if !f.timeSet {
		f.time = 2 * time.Second // /proc's CPU times tick every 10 ms
	}
	var rates []float64
	for _, r := range strings.Split(f.rates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || v <= 0 || v > 100e6 {
			return fs.usageError(stderr, "--rates %q: %q is not a rate in frames per second (1..100000000)", f.rates, r)
		}
		rates = append(rates, v)
	}
	var modes []string
	for _, m := range strings.Split(f.rxModes, ",") {
		var rm memif.RxMode
		if err := rm.UnmarshalText([]byte(strings.TrimSpace(m))); err != nil {
			return fs.usageError(stderr, "--rx-modes: %v", err)
		}
		modes = append(modes, rm.String())
	}
	if f.rxDelay < 0 || f.rxDelay > memif.MaxRxDelay {
		return fs.usageError(stderr, "--rx-delay %v is outside 0s..%v", f.rxDelay, memif.MaxRxDelay)
	}
	if !f.handlersSet {
		f.handlers = "native,c,go,acl-c"
	}
	names, err := parseWordList("--handlers", f.handlers, "native", "c", "go", "acl-c")
	if err != nil {
		return fs.usageError(stderr, "%v", err)
	}
	files := map[string]string{"c": "pass-c.wasm", "go": "pass.wasm", "acl-c": "acl-c.wasm"}
	var handlers []bench.Handler
	for _, n := range names {
		h := bench.Handler{Name: n}
		if files[n] != "" {
			if h.File, err = filepath.Abs(filepath.Join(f.pluginsDir, files[n])); err == nil {
				_, err = os.Stat(h.File)
			}
			if err != nil {
				fmt.Fprintf(stderr, "memif-wasm bench: %s plugin: %v (run make plugins first)\n", n, err)
				return exitFailure
			}
		}
		handlers = append(handlers, h)
	}
	exe := f.exe
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			fmt.Fprintf(stderr, "memif-wasm bench: %v\n", err)
			return exitFailure
		}
	}
	dir, err := os.MkdirTemp("", "memif-wasm-forward")
	if err != nil {
		fmt.Fprintf(stderr, "memif-wasm bench: %v\n", err)
		return exitFailure
	}
	defer os.RemoveAll(dir)
	plan := bench.ForwardPlan{Exe: exe, Dir: dir, CacheDir: f.cacheDir, Handlers: handlers, RxModes: modes, RxDelay: f.rxDelay,
		Size: size, Rates: rates, Search: f.search, SearchFloor: 100e3, SearchSteps: 5, Testpmd: f.testpmd,
		Time: f.time, Repeat: f.repeat, Stderr: stderr}
	if !f.jsonOut && isTerminal(stderr) {
		plan.Progress = func(n int) { fmt.Fprintf(stderr, "\r%d runs done\x1b[K", n) }
	}
	if !f.jsonOut {
		// The machine, for the table's note: a busy machine's rows are noise.
		load := "unknown"
		if b, err := os.ReadFile("/proc/loadavg"); err == nil {
			if f := strings.Fields(string(b)); len(f) >= 3 {
				load = strings.Join(f[:3], " ")
			}
		}
		fmt.Fprintf(stdout, "memif-wasm bench --forward: %d-byte frames, %v per run, daemon and generator as separate processes; %d CPUs, load average %s at start\n",
			size, f.time, runtime.NumCPU(), load)
	}
	rows, err := bench.RunForward(ctx, plan)
	if plan.Progress != nil {
		fmt.Fprint(stderr, "\r\x1b[K")
	}
	if err != nil {
		fmt.Fprintf(stderr, "memif-wasm bench: %v\n", err)
		return exitFailure
	}
	if f.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rows)
		return exitOK
	}
	bench.WriteForwardTable(stdout, rows)
	return exitOK
}
