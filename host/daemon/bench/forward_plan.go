package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/gen"
)

// ForwardOptions are memif-wasm bench --forward's flags as given; the Set
// fields say which were given at all, so that --forward's own defaults
// apply to the rest.
type ForwardOptions struct {
	Time                 time.Duration
	TimeSet              bool
	Repeat               int
	Sizes                string // one size
	SizesSet             bool
	Handlers             string // native, c, go, acl-c
	HandlersSet          bool
	PluginsDir, CacheDir string
	Rates, RxModes       string // comma-separated
	RxDelay              time.Duration
	Search, Testpmd      bool
	Exe                  string // "": this program
}

// UsageError is a ForwardOptions value that cannot be: the command line was
// wrong.
type UsageError string

func (e UsageError) Error() string { return string(e) }

// handlerFiles are the plugins of --forward's handlers, in the plugins directory.
var handlerFiles = map[string]string{"c": "pass-c.wasm", "go": "pass.wasm", "acl-c": "acl-c.wasm"}

// NewForwardPlan checks o and turns it into a plan for RunForward; the
// caller sets Dir (and Progress, Stderr). A bad value is a UsageError; a
// missing plugin or executable another error.
func NewForwardPlan(o ForwardOptions) (ForwardPlan, error) {
	p := ForwardPlan{CacheDir: o.CacheDir, Size: 64, Time: o.Time, Repeat: o.Repeat, RxDelay: o.RxDelay,
		Search: o.Search, SearchFloor: 100e3, SearchSteps: 5, Testpmd: o.Testpmd, Exe: o.Exe}
	if o.SizesSet {
		sizes, err := ParseInts("--size", o.Sizes, gen.MinSize, 9000)
		if err != nil || len(sizes) != 1 {
			return p, UsageError("--forward takes one --size value")
		}
		p.Size = sizes[0]
	}
	if !o.TimeSet {
		p.Time = 2 * time.Second // /proc's CPU times tick every 10 ms
	}
	for _, r := range strings.Split(o.Rates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || v <= 0 || v > 100e6 {
			return p, UsageError(fmt.Sprintf("--rates %q: %q is not a rate in frames per second (1..100000000)", o.Rates, r))
		}
		p.Rates = append(p.Rates, v)
	}
	for _, m := range strings.Split(o.RxModes, ",") {
		var rm memif.RxMode
		if err := rm.UnmarshalText([]byte(strings.TrimSpace(m))); err != nil {
			return p, UsageError("--rx-modes: " + err.Error())
		}
		p.RxModes = append(p.RxModes, rm.String())
	}
	if o.RxDelay < 0 || o.RxDelay > memif.MaxRxDelay {
		return p, UsageError(fmt.Sprintf("--rx-delay %v is outside 0s..%v", o.RxDelay, memif.MaxRxDelay))
	}
	handlers := o.Handlers
	if !o.HandlersSet {
		handlers = "native,c,go,acl-c"
	}
	names, err := ParseWords("--handlers", handlers, "native", "c", "go", "acl-c")
	if err != nil {
		return p, UsageError(err.Error())
	}
	for _, n := range names {
		h := Handler{Name: n}
		if f := handlerFiles[n]; f != "" {
			if h.File, err = filepath.Abs(filepath.Join(o.PluginsDir, f)); err == nil {
				_, err = os.Stat(h.File)
			}
			if err != nil {
				return p, fmt.Errorf("%s plugin: %w (run make plugins first)", n, err)
			}
		}
		p.Handlers = append(p.Handlers, h)
	}
	if p.Exe == "" {
		if p.Exe, err = os.Executable(); err != nil {
			return p, err
		}
	}
	return p, nil
}

// ForwardHeader is the line memif-wasm bench --forward prints above its
// table: what ran, and on what machine (a busy machine's rows are noise).
func ForwardHeader(p ForwardPlan) string {
	load := "unknown"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = strings.Join(f[:3], " ")
		}
	}
	return fmt.Sprintf("memif-wasm bench --forward: %d-byte frames, %v per run, daemon and generator as separate processes; %d CPUs, load average %s at start",
		p.Size, p.Time, runtime.NumCPU(), load)
}
