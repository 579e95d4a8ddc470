//go:build !wasip1

package sdk

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/abi"
)

// testPlugin records what the exports hand it and answers as configured.
type testPlugin struct {
	process  func(b *Burst) error
	config   []byte
	initErr  error
	state    []byte
	loaded   []byte
	requests []string
}

func (p *testPlugin) Process(b *Burst) error { return p.process(b) }
func (p *testPlugin) Init(cfg []byte) error {
	p.config = append([]byte(nil), cfg...)
	return p.initErr
}
func (p *testPlugin) Control(req, reply []byte) ([]byte, error) {
	p.requests = append(p.requests, string(req))
	if string(req) == "bad" {
		return nil, errors.New("bad request")
	}
	if string(req) == "panic" {
		panic("boom")
	}
	return append(reply, "re:"+string(req)...), nil
}
func (p *testPlugin) SaveState(dst []byte) ([]byte, error) { return append(dst, p.state...), nil }
func (p *testPlugin) LoadState(st []byte) error {
	if string(st) == "corrupt" {
		return abi.ErrRange
	}
	p.loaded = append([]byte(nil), st...)
	return nil
}

// withPlugin runs a test on a fresh simulated instance with p registered and
// the log captured.
func withPlugin(t *testing.T, p Plugin) *bytes.Buffer {
	t.Helper()
	simReset()
	registered = p
	var logs bytes.Buffer
	LogOutput = &logs
	t.Cleanup(func() {
		registered = nil
		LogOutput = nil
		simReset()
	})
	return &logs
}

// hostBurst plays the host: it writes a header and one descriptor per packet,
// copying each packet into the window after headroom bytes.
type hostBurst struct {
	batch, window uint32
	headroom      uint32
	slot          uint32
}

func newHostBurst(t *testing.T, max uint32, headroom uint32) *hostBurst {
	t.Helper()
	batch := exportBatch(max)
	window := exportWindow(max * 2048)
	if batch == 0 || window == 0 {
		t.Fatalf("batch %#x window %#x", batch, window)
	}
	return &hostBurst{batch: batch, window: window, headroom: headroom, slot: 2048}
}

func (h *hostBurst) fill(now uint64, pkts ...[]byte) {
	hdr := view(h.batch, abi.HeaderSize)
	le.PutUint32(hdr[abi.HdrVersion:], abi.Version)
	le.PutUint32(hdr[abi.HdrCount:], uint32(len(pkts)))
	le.PutUint64(hdr[abi.HdrNowNanos:], now)
	le.PutUint32(hdr[abi.HdrIfIndex:], 7)
	le.PutUint16(hdr[abi.HdrQueue:], 3)
	le.PutUint32(hdr[abi.HdrHeadroom:], h.headroom)
	for i, p := range pkts {
		d := h.desc(i)
		addr := h.window + uint32(i)*h.slot + h.headroom
		copy(view(addr, len(p)), p)
		le.PutUint32(d[abi.DescData:], addr)
		le.PutUint16(d[abi.DescLen:], uint16(len(p)))
		le.PutUint16(d[abi.DescCap:], uint16(h.slot-h.headroom))
		d[abi.DescVerdict] = 0
		d[abi.DescFlags] = 0
		le.PutUint16(d[abi.DescInPort:], uint16(i))
		le.PutUint32(d[abi.DescMeta:], 0)
	}
}

func (h *hostBurst) desc(i int) []byte {
	return view(h.batch+abi.HeaderSize+uint32(i)*abi.DescSize, abi.DescSize)
}

func (h *hostBurst) data(i int) []byte {
	d := h.desc(i)
	return view(le.Uint32(d[abi.DescData:]), int(le.Uint16(d[abi.DescLen:])))
}

func TestExportsAddresses(t *testing.T) {
	withPlugin(t, HandlerFunc(func(*Burst) {}))
	if exportABIVersion() != abi.Version {
		t.Fatal("abi version")
	}
	b := exportBatch(256)
	if b == 0 || b%abi.BatchAlign != 0 || len(g.batch) != abi.BatchSize(256) {
		t.Fatalf("batch %#x (len %d)", b, len(g.batch))
	}
	if again := exportBatch(16); again != b {
		t.Fatalf("smaller batch moved the area: %#x then %#x", b, again)
	}
	w := exportWindow(100000)
	if w == 0 || w%abi.WindowAlign != 0 || len(g.window) != 2*abi.WindowAlign {
		t.Fatalf("window %#x (len %d): want 64 KiB-aligned whole pages", w, len(g.window))
	}
	if exportWindow(65536) != w {
		t.Fatal("a smaller window moved the reservation")
	}
	for _, bad := range []uint32{0, abi.MaxBurst + 1} {
		if exportBatch(bad) != 0 {
			t.Errorf("mw_batch(%d) accepted", bad)
		}
	}
	if exportWindow(0) != 0 || exportWindow(maxWindow+1) != 0 {
		t.Error("mw_window accepted 0 or too many bytes")
	}
}

func TestMsgBufGrowsAndKeepsContent(t *testing.T) {
	withPlugin(t, HandlerFunc(func(*Burst) {}))
	a := exportMsgBuf(10)
	copy(view(a, 5), "hello")
	if exportMsgBuf(100) != a {
		t.Fatal("msgbuf moved although it was big enough")
	}
	b := exportMsgBuf(minMsgBuf * 3)
	if b == 0 || string(view(b, 5)) != "hello" {
		t.Fatalf("grown msgbuf at %#x lost its content: %q", b, view(b, 5))
	}
	if exportMsgBuf(maxMsgBuf+1) != 0 {
		t.Fatal("mw_msgbuf accepted more than the limit")
	}
}

func TestProcessRoundTrip(t *testing.T) {
	withPlugin(t, HandlerFunc(func(b *Burst) {
		if b.NowNanos() != 42 || b.Header().IfIndex != 7 || b.Header().Queue != 3 {
			panic("header not delivered")
		}
		b.Packet(0).Drop()
		b.Packet(1).Redirect(9)
		p := b.Packet(2)
		p.Data()[0] = 0xee
		p.MarkModified()
		p.TX()
		p = b.Packet(3)
		if !p.AdjustHead(-4) { // push 4 bytes into the headroom
			panic("AdjustHead")
		}
		copy(p.Data(), "PUSH")
		p.Pass()
		p = b.Packet(4)
		if !p.SetLen(2) {
			panic("SetLen")
		}
		p.Pass()
		// packet 5 gets no verdict: it stays Aborted.
	}))
	h := newHostBurst(t, 8, 64)
	h.fill(42, []byte("aaaa"), []byte("bbbb"), []byte("cccc"), []byte("dddd"), []byte("eeee"), []byte("ffff"))
	orig3 := le.Uint32(h.desc(3)[abi.DescData:])
	if rc := exportProcess(6); rc != 0 {
		t.Fatalf("mw_process = %d", rc)
	}
	want := []abi.Verdict{abi.Drop, abi.Redirect, abi.TX, abi.Pass, abi.Pass, abi.Aborted}
	for i, v := range want {
		if got := abi.Verdict(h.desc(i)[abi.DescVerdict]); got != v {
			t.Errorf("packet %d verdict %v, want %v", i, got, v)
		}
	}
	if m := le.Uint32(h.desc(1)[abi.DescMeta:]); m != 9 {
		t.Errorf("redirect meta %d", m)
	}
	if h.data(2)[0] != 0xee || h.desc(2)[abi.DescFlags]&abi.FlagModified == 0 {
		t.Errorf("packet 2: % x flags %#x", h.data(2), h.desc(2)[abi.DescFlags])
	}
	if got := le.Uint32(h.desc(3)[abi.DescData:]); got != orig3-4 || string(h.data(3)) != "PUSHdddd" {
		t.Errorf("packet 3 data %#x (was %#x): %q", got, orig3, h.data(3))
	}
	if string(h.data(4)) != "ee" {
		t.Errorf("packet 4 %q", h.data(4))
	}
}

func TestProcessRejectsBadBatches(t *testing.T) {
	tests := []struct {
		name   string
		n      uint32
		mangle func(h *hostBurst)
		rc     abi.Errno
		log    string
	}{
		{"n above max", 9, nil, abi.ErrRange, "holds 8"},
		{"header version", 1, func(h *hostBurst) { le.PutUint32(view(h.batch, 4), 2) }, abi.ErrInval, "version 2"},
		{"header count", 1, func(h *hostBurst) { le.PutUint32(view(h.batch+4, 4), 2) }, abi.ErrInval, "count 2"},
		{"len above cap", 1, func(h *hostBurst) { le.PutUint16(h.desc(0)[abi.DescLen:], 3000) }, abi.ErrInval, "descriptor 0"},
		{"data below headroom", 1, func(h *hostBurst) { le.PutUint32(h.desc(0)[abi.DescData:], 10) }, abi.ErrInval, "descriptor 0"},
		{"data wraps", 1, func(h *hostBurst) { le.PutUint32(h.desc(0)[abi.DescData:], 0xffffff00) }, abi.ErrInval, "descriptor 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			called := false
			logs := withPlugin(t, HandlerFunc(func(*Burst) { called = true }))
			h := newHostBurst(t, 8, 64)
			h.fill(1, []byte("x"))
			if tc.mangle != nil {
				tc.mangle(h)
			}
			if rc := exportProcess(tc.n); rc != -int32(tc.rc) {
				t.Fatalf("mw_process = %d, want %d", rc, -int32(tc.rc))
			}
			if called {
				t.Fatal("plugin ran on a bad batch")
			}
			if !strings.Contains(logs.String(), tc.log) {
				t.Fatalf("log %q does not say %q", logs.String(), tc.log)
			}
		})
	}
}

func TestProcessErrorsAndPanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(*Burst) error
		rc   abi.Errno
	}{
		{"plain error", func(*Burst) error { return errors.New("table broken") }, abi.ErrInternal},
		{"errno error", func(*Burst) error { return abi.ErrNoMem }, abi.ErrNoMem},
		{"panic", func(b *Burst) error { _ = b.Packet(b.Len()); return nil }, abi.ErrInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := withPlugin(t, &testPlugin{process: tc.fn})
			h := newHostBurst(t, 4, 0)
			h.fill(1, []byte("x"))
			if rc := exportProcess(1); rc != -int32(tc.rc) {
				t.Fatalf("mw_process = %d, want %d", rc, -int32(tc.rc))
			}
			if logs.Len() == 0 {
				t.Fatal("failure not logged")
			}
			// The instance still works afterwards.
			registered = HandlerFunc(func(b *Burst) { b.SetAll(abi.Pass) })
			h.fill(2, []byte("y"))
			if rc := exportProcess(1); rc != 0 || abi.Verdict(h.desc(0)[abi.DescVerdict]) != abi.Pass {
				t.Fatalf("after failure: rc %d verdict %d", rc, h.desc(0)[abi.DescVerdict])
			}
		})
	}
}

func TestInitControlState(t *testing.T) {
	p := &testPlugin{state: []byte("saved-state")}
	logs := withPlugin(t, p)
	msg := exportMsgBuf(16)
	copy(view(msg, 6), `{"a":1`)
	if rc := exportInit(msg, 6); rc != 0 || string(p.config) != `{"a":1` {
		t.Fatalf("mw_init = %d, config %q", rc, p.config)
	}
	if rc := exportInit(0, 0); rc != 0 || len(p.config) != 0 {
		t.Fatalf("empty config: rc %d config %q", rc, p.config)
	}
	p.initErr = errors.New("no rules")
	if rc := exportInit(msg, 6); rc != -int32(abi.ErrInval) || !strings.Contains(logs.String(), "no rules") {
		t.Fatalf("failing init: rc %d log %q", rc, logs.String())
	}
	if rc := exportInit(0, 5); rc != -int32(abi.ErrInval) {
		t.Fatalf("config at address 0: rc %d", rc)
	}

	copy(view(msg, 4), "ping")
	rc := exportControl(msg, 4)
	if rc != 7 {
		t.Fatalf("mw_control = %d", rc)
	}
	if got := string(view(exportMsgBuf(uint32(rc)), int(rc))); got != "re:ping" {
		t.Fatalf("reply %q", got)
	}
	// A reply longer than the message buffer would land where the host does
	// not look: it is refused, and the buffer does not move.
	before := g.msgAddr
	big := strings.Repeat("z", len(g.msg))
	addr := exportMsgBuf(uint32(len(big)))
	copy(view(addr, len(big)), big)
	if rc := exportControl(addr, uint32(len(big))); rc != -int32(abi.ErrRange) || g.msgAddr != before {
		t.Fatalf("oversized reply: rc %d, msgbuf %#x -> %#x", rc, before, g.msgAddr)
	}
	copy(view(exportMsgBuf(3), 3), "bad")
	if rc := exportControl(exportMsgBuf(3), 3); rc != -int32(abi.ErrInval) {
		t.Fatalf("bad control rc %d", rc)
	}
	copy(view(exportMsgBuf(5), 5), "panic")
	if rc := exportControl(exportMsgBuf(5), 5); rc != -int32(abi.ErrInternal) {
		t.Fatalf("panicking control rc %d", rc)
	}

	n := exportStateSave()
	if n != 11 || string(view(exportMsgBuf(uint32(n)), int(n))) != "saved-state" {
		t.Fatalf("mw_state_save = %d", n)
	}
	copy(view(exportMsgBuf(5), 5), "state")
	if rc := exportStateLoad(exportMsgBuf(5), 5); rc != 0 || string(p.loaded) != "state" {
		t.Fatalf("mw_state_load = %d, loaded %q", rc, p.loaded)
	}
	copy(view(exportMsgBuf(7), 7), "corrupt")
	if rc := exportStateLoad(exportMsgBuf(7), 7); rc != -int32(abi.ErrRange) {
		t.Fatalf("corrupt state rc %d", rc)
	}
}

func TestOptionalHooksMissing(t *testing.T) {
	withPlugin(t, HandlerFunc(func(*Burst) {}))
	msg := exportMsgBuf(8)
	if rc := exportInit(msg, 4); rc != 0 {
		t.Fatalf("init without Initer: %d", rc)
	}
	if rc := exportControl(msg, 4); rc != -int32(abi.ErrNotSup) {
		t.Fatalf("control without Controller: %d", rc)
	}
	if rc := exportStateSave(); rc != 0 {
		t.Fatalf("state save without StateSaver: %d (want an empty state)", rc)
	}
	if rc := exportStateLoad(msg, 0); rc != 0 {
		t.Fatalf("empty state load: %d", rc)
	}
	if rc := exportStateLoad(msg, 4); rc != -int32(abi.ErrNotSup) {
		t.Fatalf("state load without StateLoader: %d", rc)
	}
}

func TestNoPluginRegistered(t *testing.T) {
	logs := withPlugin(t, nil)
	registered = nil
	if rc := exportInit(0, 0); rc != -int32(abi.ErrNotSup) || !strings.Contains(logs.String(), "no plugin registered") {
		t.Fatalf("init rc %d log %q", rc, logs.String())
	}
	if rc := exportProcess(0); rc != -int32(abi.ErrNotSup) {
		t.Fatalf("process rc %d", rc)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	withPlugin(t, nil)
	registered = nil
	Handle(func(*Burst) {})
	defer func() {
		if recover() == nil {
			t.Fatal("second Register did not panic")
		}
	}()
	Handle(func(*Burst) {})
}

func TestProcessAllocations(t *testing.T) {
	withPlugin(t, HandlerFunc(func(b *Burst) {
		var h Headers
		for i := range b.Len() {
			p := b.Packet(i)
			h.Decode(p.Data())
			p.Pass()
		}
	}))
	h := newHostBurst(t, abi.MaxBurst, 64)
	pkts := make([][]byte, abi.MaxBurst)
	for i := range pkts {
		pkts[i] = make([]byte, 64)
	}
	h.fill(1, pkts...)
	if n := testing.AllocsPerRun(50, func() {
		if exportProcess(abi.MaxBurst) != 0 {
			panic("process failed")
		}
	}); n != 0 {
		t.Fatalf("mw_process allocates %v times per burst", n)
	}
}

func BenchmarkProcessBurst256(b *testing.B) {
	simReset()
	registered = HandlerFunc(func(b *Burst) { b.SetAll(abi.Pass) })
	defer func() { registered = nil; simReset() }()
	batch, window := exportBatch(abi.MaxBurst), exportWindow(abi.MaxBurst*2048)
	hb := &hostBurst{batch: batch, window: window, slot: 2048}
	pkts := make([][]byte, abi.MaxBurst)
	for i := range pkts {
		pkts[i] = make([]byte, 64)
	}
	hb.fill(1, pkts...)
	b.ReportAllocs()
	for b.Loop() {
		exportProcess(abi.MaxBurst)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*abi.MaxBurst), "ns/pkt")
}

// FuzzProcessDescriptors feeds arbitrary header and descriptor bytes to
// mw_process: whatever the host writes, the SDK must answer with an errno or
// run the plugin on packets inside memory, never panic.
func FuzzProcessDescriptors(f *testing.F) {
	f.Add(uint32(1), []byte{})
	f.Add(uint32(2), bytes.Repeat([]byte{0xff}, 64))
	f.Add(uint32(1), []byte{1, 0, 0, 0, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, n uint32, raw []byte) {
		simReset()
		registered = HandlerFunc(func(b *Burst) {
			for i := range b.Len() {
				p := b.Packet(i)
				if len(p.Data()) != p.Len() {
					panic("length mismatch")
				}
				p.Pass()
			}
		})
		defer func() { registered = nil }()
		LogOutput = &bytes.Buffer{}
		batch := exportBatch(4)
		exportWindow(65536)
		copy(view(batch, abi.BatchSize(4)), raw)
		rc := exportProcess(n % 6)
		// ErrInternal: a descriptor beyond the simulated memory, which
		// traps in a real guest.
		if rc != 0 && rc != -int32(abi.ErrInval) && rc != -int32(abi.ErrRange) && rc != -int32(abi.ErrInternal) {
			t.Fatalf("rc %d", rc)
		}
	})
}
