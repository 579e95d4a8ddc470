package host

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
)

// spinC burns fuel in C: an xorshift loop the compiler cannot fold, with no
// calls and no memory traffic.
const spinC = `
static unsigned char batch[32 + 256 * 16] __attribute__((aligned(64)));
static unsigned char msg[65536];
extern unsigned char __heap_base;
__attribute__((export_name("mw_abi_version"))) int abi(void) { return 1; }
__attribute__((export_name("mw_batch"))) unsigned mw_batch(unsigned n) { return (unsigned)batch; }
__attribute__((export_name("mw_msgbuf"))) unsigned mw_msgbuf(unsigned n) { return (unsigned)msg; }
__attribute__((export_name("mw_window"))) unsigned mw_window(unsigned n) {
	unsigned base = ((unsigned)&__heap_base + 65535) & ~65535u;
	unsigned pages = __builtin_wasm_memory_size(0);
	unsigned need = (base + n + 65535) / 65536;
	if (need > pages && __builtin_wasm_memory_grow(0, need - pages) < 0) return 0;
	return base;
}
__attribute__((export_name("mw_init"))) int mw_init(unsigned p, unsigned n) { return 0; }
volatile unsigned sink;
__attribute__((export_name("mw_process"))) int mw_process(unsigned n) {
	unsigned x = n | 1;
	for (;;) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; sink = x; }
}
`

// fuelGuest is a guest whose mw_process burns fuel until it runs out.
type fuelGuest struct {
	name string
	wasm func(b *testing.B) []byte
	cfg  PluginConfig
}

func fuelGuests() []fuelGuest {
	wat := func(bad string) func(b *testing.B) []byte {
		return func(b *testing.B) []byte { return hostileWAT(b, "", bad) }
	}
	return []fuelGuest{
		{"wat-spin", wat(`(call $spin)`), PluginConfig{}},
		// Shallow calls: fib(20) over and over, call-heavy but never deep.
		{"wat-calls", func(b *testing.B) []byte {
			src := readTestdata(b, "hostile.wat")
			src = src[:bytes.LastIndexByte([]byte(src), ')')] + `
  (func $fib (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2)) (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1))) (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func $fibloop (loop $l (drop (call $fib (i32.const 20))) (br $l))))`
			return hosttest.WAT(b, replaceHostile(src, "", `(call $fibloop)`))
		}, PluginConfig{}},
		// memory.fill of 64 KiB again and again: bulk work charged by size.
		{"wat-fill", wat(`(loop $l (memory.fill (i32.const 196608) (i32.const 7) (i32.const 65536)) (br $l))`), PluginConfig{}},
		// memory.fill over 1 MiB of pages never touched before: the page
		// faults (which fuel does not see) are most of the cost.
		{"wat-fill-fresh", wat(`(loop $l (memory.fill (i32.const 1048576) (i32.const 7) (i32.const 1048576)) (br $l))`), PluginConfig{}},
		// memory.grow to the cap, touching every new page: the page faults
		// are the cost, charged through grow's size.
		{"wat-grow-touch", wat(`(block $out (loop $l
			(br_if $out (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
			(memory.fill (i32.sub (i32.shl (memory.size) (i32.const 16)) (i32.const 65536)) (i32.const 1) (i32.const 65536))
			(br $l))) unreachable`), PluginConfig{MaxMemoryPages: 2048, Fuel: 1 << 30}},
		// Deep recursion: the trap unwinds every frame in Go (~0.35 µs each).
		// The stack budget would stop it after ~3,600 frames; with room to
		// spare it runs to the end of its fuel, the slowest case fuel alone
		// bounds.
		{"wat-recursion", wat(`(drop (call $recurse (i32.const 0)))`), PluginConfig{Stack: 1 << 30}},
		{"c-spin", func(b *testing.B) []byte { return hosttest.C(b, spinC, "-Wl,--max-memory=67108864") }, PluginConfig{}},
		{"go-spin", func(b *testing.B) []byte { return hosttest.Go(b, readTestdata(b, "gohostile.go.txt")) }, PluginConfig{MaxMemoryPages: 512}},
	}
}

func replaceHostile(src, init, bad string) string {
	if init == "" {
		init = "(i32.const 0)"
	}
	process := `(if (i32.eq (i32.load8_u (i32.load (call $desc (i32.const 0)))) (i32.const 0xee)) (then ` + bad + `))
    (call $all (local.get $n) (i32.const 2)) (i32.const 0)`
	return strings.NewReplacer("{{MAX}}", "1024", "{{INIT}}", init, "{{PROCESS}}", process).Replace(src)
}

// BenchmarkFuelRate measures fuel per µs: each iteration is one mw_process
// call on a fresh instance that burns its whole budget (DefaultFuel unless
// the guest sets one) and traps. The slowest rate sizes DefaultFuel.
//
//	go test -run '^$' -bench FuelRate -benchtime 20x ./host/
func BenchmarkFuelRate(b *testing.B) {
	for _, g := range fuelGuests() {
		b.Run(g.name, func(b *testing.B) {
			e, _ := newCachedEngine(b, nil)
			cfg := g.cfg
			m := load(b, e, g.wasm(b), &cfg)
			act := byte(0)
			if g.name == "go-spin" {
				act = 2
			}
			burst := evilBurst(1, evilByte, act)
			idx := []uint16{0}
			var st PluginStats
			var spent time.Duration
			for b.Loop() {
				b.StopTimer()
				in, err := m.Instantiate(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				burst.Packets[0].Off, burst.Packets[0].Len = 64, 6
				b.StartTimer()
				start := time.Now()
				err = in.runBurst(burst, idx, 0, &st)
				spent += time.Since(start)
				b.StopTimer()
				if !errors.Is(err, ErrFuelExhausted) && !errors.Is(err, ErrMemoryCap) {
					b.Fatalf("burst did not run out of fuel: %v", err)
				}
				in.Close(context.Background())
				b.StartTimer()
			}
			us := float64(spent.Nanoseconds()) / 1e3
			b.ReportMetric(float64(st.FuelUsed)/us, "fuel/µs")
			b.ReportMetric(us/float64(st.Bursts), "µs/call")
			b.ReportMetric(float64(st.FuelUsed)/float64(st.Bursts), "fuel/call")
		})
	}
}

// builtPlugin returns plugins/build/<name>.wasm, building the Go plugin
// plugins/<name> into the test cache when the file is missing.
func builtPlugin(b *testing.B, name string) []byte {
	b.Helper()
	if w, err := os.ReadFile(filepath.Join("..", "plugins", "build", name+".wasm")); err == nil {
		return w
	}
	out := filepath.Join(b.TempDir(), name+".wasm")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-buildmode=c-shared", "-trimpath", "-o", out, "./plugins/"+name)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Skipf("cannot build plugin %s: %v\n%s", name, err, msg)
	}
	w, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	return w
}

// BenchmarkFuelOverhead compares metered and unmetered plugins on bursts of
// 256 packets of 64 bytes (copy placement).
//
//	go test -run '^$' -bench FuelOverhead -benchtime 4000x ./host/
func BenchmarkFuelOverhead(b *testing.B) {
	goACL := []byte(`{"default":"allow","rules":[{"action":"deny","proto":"udp","dport":53}]}`)
	guests := []struct {
		name string
		wasm func(b *testing.B) []byte
		cfg  PluginConfig
	}{
		{"acl-c", func(b *testing.B) []byte { return aclWasm(b) }, PluginConfig{Config: aclConfig()}},
		{"pass-c", func(b *testing.B) []byte {
			hdr, err := os.ReadFile("../sdk/c/memif_wasm.h")
			if err != nil {
				b.Skip(err)
			}
			src, err := os.ReadFile("../plugins/pass/c/pass.c")
			if err != nil {
				b.Skip(err)
			}
			src = bytes.Replace(src, []byte(`#include "memif_wasm.h"`), hdr, 1)
			return hosttest.C(b, string(src), "-mbulk-memory", "-Wl,--max-memory=67108864")
		}, PluginConfig{}},
		{"acl-go", func(b *testing.B) []byte { return builtPlugin(b, "acl") }, PluginConfig{Config: goACL}},
		{"pass-go", func(b *testing.B) []byte { return builtPlugin(b, "pass") }, PluginConfig{}},
	}
	for _, g := range guests {
		// Metered and unmetered bursts alternate in one loop, so the noise
		// of a shared machine hits both alike; the overhead is the ratio of
		// their medians over blocks of 16 bursts.
		b.Run(g.name, func(b *testing.B) {
			e, _ := newCachedEngine(b, nil)
			var pipes [2]*Pipeline
			for i, unmetered := range []bool{true, false} {
				cfg := g.cfg
				cfg.Unmetered = unmetered
				pipes[i] = pipeline(b, load(b, e, g.wasm(b), &cfg))
			}
			burst, _, _ := benchBurst(b, 256, 64)
			var blocks [2][]float64
			var acc [2]time.Duration
			k := 0
			b.ReportAllocs()
			for b.Loop() {
				for i, p := range pipes {
					start := time.Now()
					p.Process(burst)
					acc[i] += time.Since(start)
				}
				if k++; k%16 == 0 {
					for i := range acc {
						blocks[i] = append(blocks[i], float64(acc[i].Nanoseconds())/16/256)
						acc[i] = 0
					}
				}
			}
			for i, p := range pipes {
				st := p.ReadStats(nil)[0]
				if st.Faults != 0 || burst.Packets[1].Verdict == abi.Aborted {
					b.Fatalf("plugin failed: %+v, fault %v", st, p.Fault(0))
				}
				if i == 1 {
					b.ReportMetric(float64(st.FuelUsed)*256/float64(st.Packets), "fuel/256pkts")
				}
			}
			if len(blocks[0]) == 0 {
				return
			}
			med := func(v []float64) float64 { sort.Float64s(v); return v[len(v)/2] }
			plain, metered := med(blocks[0]), med(blocks[1])
			b.ReportMetric(plain, "ns/pkt-unmetered")
			b.ReportMetric(metered, "ns/pkt-metered")
			b.ReportMetric((metered/plain-1)*100, "overhead-%")
		})
	}
}

// BenchmarkGCPauseUnderHostileLoop runs a guest that burns its whole budget
// on every call while another goroutine runs runtime.GC() back to back, and
// reports the GC's stop-the-world pauses from runtime/metrics (histogram
// bucket bounds): compiled wasm cannot be preempted, so stopping the world
// waits for the guest call in flight, which fuel bounds.
//
// Cases: "pass" is a guest that returns at once (the machine's own noise);
// "spin-*" burn a budget on one instance reused call after call, as a
// worker does; "spin-DefaultFuel-fresh" instantiates and closes an instance
// per call (what this benchmark used to do: the per-call mmap, munmap and
// allocation add noise but not the effect); "go-loop" is the control: a
// preemptible pure-Go loop as long as a DefaultFuel call, run instead of a
// guest. If its whole pause grows like the spinning guest's while its stop
// does not, the growth is not the guest's doing (see RATIONALE.md, "Why the
// GC pause benchmark reports the stop, not the whole pause").
//
//	go test -run '^$' -bench GCPause -benchtime 300x -cpu 2 ./host/
func BenchmarkGCPauseUnderHostileLoop(b *testing.B) {
	cases := []struct {
		name   string
		fuel   int64
		act    byte
		fresh  bool // a new instance per call
		goLoop bool // spin in Go instead of calling the guest
	}{
		{"pass", 0, 9, false, false},
		{"spin-DefaultFuel", 0, evilByte, false, false},
		{"spin-DefaultFuel-fresh", 0, evilByte, true, false},
		{"go-loop", 0, evilByte, false, true},
		{"spin-fuel-1e6", 1_000_000, evilByte, false, false},
		{"spin-fuel-2.5e7", 25_000_000, evilByte, false, false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			e, _ := newEngine(b)
			m := load(b, e, hostileWAT(b, "", `(call $spin)`), &PluginConfig{Fuel: c.fuel})
			burst := evilBurst(1, c.act, 0)
			idx := []uint16{0}
			var st PluginStats
			in, err := m.Instantiate(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			defer func() { in.Close(context.Background()) }()
			call := func() time.Duration {
				if c.fresh {
					in.Close(context.Background())
					if in, err = m.Instantiate(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
				burst.Packets[0].Off, burst.Packets[0].Len = 64, 6
				start := time.Now()
				err := in.runBurst(burst, idx, 0, &st)
				took := time.Since(start)
				if c.act == evilByte && !errors.Is(err, ErrFuelExhausted) {
					b.Fatalf("burst did not run out of fuel: %v", err)
				}
				return took
			}
			// The Go loop runs as long as the median guest call, measured
			// before the GC loop starts.
			var loopFor time.Duration
			if c.goLoop {
				var d []float64
				for range 15 {
					d = append(d, float64(call()))
				}
				loopFor = time.Duration(median(d))
			}
			var stop atomic.Bool
			var gcs atomic.Int64
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					runtime.GC()
					gcs.Add(1)
				}
			}()
			var spent time.Duration
			calls := 0
			sink := uint64(1)
			before := readPauses()
			// An iteration is at least 0.5 ms of calls, so every case sees
			// about as many GC cycles per iteration as a DefaultFuel spin.
			for b.Loop() {
				for round := time.Duration(0); round < 500*time.Microsecond; calls++ {
					var took time.Duration
					if c.goLoop {
						start := time.Now()
						for time.Since(start) < loopFor {
							for range 1000 {
								sink ^= sink << 13
								sink ^= sink >> 7
								sink ^= sink << 17
							}
						}
						took = time.Since(start)
					} else {
						took = call()
					}
					round += took
					spent += took
				}
			}
			stop.Store(true)
			wg.Wait()
			after := readPauses()
			if sink == 0 {
				b.Log("unreachable: keeps the Go loop's work alive")
			}
			for i, name := range pauseMetrics {
				h := after[i].Value.Float64Histogram()
				counts := append([]uint64(nil), h.Counts...)
				for j, c := range before[i].Value.Float64Histogram().Counts {
					counts[j] -= c
				}
				b.ReportMetric(histQuantile(counts, h.Buckets, 0.5)*1e6, name+"-median-µs")
				b.ReportMetric(histQuantile(counts, h.Buckets, 0.9)*1e6, name+"-p90-µs")
				b.ReportMetric(histQuantile(counts, h.Buckets, 1)*1e6, name+"-max-µs")
			}
			b.ReportMetric(float64(spent.Microseconds())/float64(calls), "µs/call")
			b.ReportMetric(float64(gcs.Load()), "GCs")
		})
	}
}

// pauseMetrics are the GC stop-the-world histograms: "stopping" is the time
// to bring every goroutine to a safe point (what a guest call in flight
// delays); "total" runs from the same start to a clock read the runtime
// takes after it has handed the Ps back and woken their threads (sweep
// termination), so it also counts any OS run-queue wait of the GC's own
// thread once the world is running again.
var pauseMetrics = []string{"stopping", "total"}

func readPauses() []metrics.Sample {
	s := []metrics.Sample{{Name: "/sched/pauses/stopping/gc:seconds"}, {Name: "/sched/pauses/total/gc:seconds"}}
	metrics.Read(s)
	return s
}

// histQuantile returns the upper bound of the bucket holding quantile q.
func histQuantile(counts []uint64, buckets []float64, q float64) float64 {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= want && c > 0 {
			return buckets[i+1]
		}
	}
	return buckets[len(buckets)-1]
}

// BenchmarkNeighbourUnderAttack reports tenant blue's acl throughput while
// tenant red's hostile plugins fault, as a ratio of its baseline: each
// iteration is one round of a baseline and an attacked segment of one
// restart backoff each (see neighbourRatio); reported are the median and minimum over the
// rounds, on blue's own time and on wall time alone, for each kind of
// attacker alone and all together.
//
//	go test -run '^$' -bench NeighbourUnderAttack -benchtime 10x ./host/
func BenchmarkNeighbourUnderAttack(b *testing.B) {
	kinds := append([]string{"all", "trap"}, hostileKinds...)
	for _, kind := range kinds {
		b.Run(kind, func(b *testing.B) {
			e, _ := newEngine(b)
			blue := newNeighbour(b, e)
			red, _ := NewTenant(TenantConfig{Name: "red"})
			attackers := hostileKinds
			if kind != "all" {
				attackers = []string{kind}
			}
			var groups [][]*Pipeline
			for _, k := range attackers {
				m := loadAttacker(b, e, red, k, hostileWAT(b, "", hostileCode[k]), PluginConfig{})
				groups = append(groups, []*Pipeline{pipeline(b, m)})
			}
			a := startAttack(groups...)
			defer a.stop()
			bursts := neighbourBursts(blue, restartBackoffMin)
			var own, wall []float64
			for b.Loop() {
				r := neighbourRatio(blue, a, 1, bursts)
				if r.lost != 0 || r.faults == 0 {
					b.Fatalf("lost %d packets; red faults %d", r.lost, r.faults)
				}
				own, wall = append(own, r.ratio), append(wall, r.wallRatio)
			}
			b.ReportMetric(median(own), "ratio-median")
			b.ReportMetric(slices.Min(own), "ratio-min")
			b.ReportMetric(median(wall), "wall-ratio-median")
			b.ReportMetric(slices.Min(wall), "wall-ratio-min")
		})
	}
}

// BenchmarkFaultGarbage reports what one fault of each hostile kind leaves
// on the Go heap (B/op): a fresh instance, one burst that faults, and its
// close, as a restart after a fault does. This garbage is what makes the GC
// run while tenants' plugins fault, and what the stack budget keeps small
// for a runaway recursion.
//
//	go test -run '^$' -bench FaultGarbage -benchmem ./host/
func BenchmarkFaultGarbage(b *testing.B) {
	for _, kind := range hostileKinds {
		b.Run(kind, func(b *testing.B) {
			e, _ := newEngine(b)
			m := load(b, e, hostileWAT(b, "", hostileCode[kind]), nil)
			burst := evilBurst(4, evilByte, 0)
			idx := []uint16{0, 1, 2, 3}
			var st PluginStats
			b.ReportAllocs()
			for b.Loop() {
				in, err := m.Instantiate(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				for i := range burst.Packets {
					burst.Packets[i].Off, burst.Packets[i].Len = 64, 6
				}
				if err := in.runBurst(burst, idx, 0, &st); err == nil {
					b.Fatal("the hostile burst did not fault")
				}
				in.Close(context.Background())
			}
		})
	}
}
