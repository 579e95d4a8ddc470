package sdk

import (
	"errors"

	"github.com/memif-wasm/memif-wasm/abi"
)

// The functions below implement the ABI's exports on any platform; the
// wasip1 build exports them (exports_wasip1.go), and native tests call them on
// a simulated linear memory (mem_other.go).

var le littleEndian

// Bounds on what the host may ask the guest to set aside. They keep a
// confused or hostile host request from exhausting the guest's memory in one go.
const (
	maxWindow = 1 << 30
	maxMsgBuf = 64 << 20
	minMsgBuf = 4096
	msgAlign  = 8
)

// guest is the SDK's per-instance state: one plugin, one instance, one thread.
type guest struct {
	batch      []byte
	batchAddr  uint32
	batchMax   uint32
	window     []byte // kept only so the reservation stays alive
	windowAddr uint32
	msg        []byte
	msgAddr    uint32
	scratch    []byte // reply and state bytes before they move to msg
	burst      Burst
}

var g guest

func exportABIVersion() uint32 { return abi.Version }

// exportBatch returns the batch area for maxPkts descriptors, or 0 when
// maxPkts is out of range or memory ran out.
func exportBatch(maxPkts uint32) uint32 {
	if maxPkts == 0 || maxPkts > abi.MaxBurst {
		logs(abi.LogError, "mw_batch(", maxPkts, "): want 1..", abi.MaxBurst, " packets")
		return 0
	}
	if g.batch != nil && maxPkts <= g.batchMax {
		return g.batchAddr
	}
	buf, addr := alloc(abi.BatchSize(int(maxPkts)), abi.BatchAlign)
	if buf == nil {
		return 0
	}
	g.batch, g.batchAddr, g.batchMax = buf, addr, maxPkts
	return addr
}

// exportWindow reserves whole wasm pages the guest never touches, for the host
// to copy or map packets into, and returns their address (0 = cannot).
func exportWindow(bytes uint32) uint32 {
	if bytes == 0 || bytes > maxWindow {
		logs(abi.LogError, "mw_window(", bytes, "): want 1..", maxWindow, " bytes")
		return 0
	}
	if uint32(len(g.window)) >= bytes {
		return g.windowAddr
	}
	// Round up to whole pages: the host maps whole pages, and a partial last
	// page would cover bytes the Go heap hands to other objects.
	size := (int(bytes) + abi.WindowAlign - 1) &^ (abi.WindowAlign - 1)
	buf, addr := alloc(size, abi.WindowAlign)
	if buf == nil {
		return 0
	}
	g.window, g.windowAddr = buf, addr
	return addr
}

// exportMsgBuf returns a message buffer of at least n bytes whose first bytes
// are what the previous buffer held, or 0 when n is too large.
func exportMsgBuf(n uint32) uint32 {
	if n > maxMsgBuf {
		logs(abi.LogError, "mw_msgbuf(", n, "): at most ", maxMsgBuf, " bytes")
		return 0
	}
	if g.msg != nil && int(n) <= len(g.msg) {
		return g.msgAddr
	}
	size := max(int(n), 2*len(g.msg), minMsgBuf)
	size = min(size, maxMsgBuf)
	buf, addr := alloc(size, msgAlign)
	if buf == nil {
		return 0
	}
	copy(buf, g.msg)
	g.msg, g.msgAddr = buf, addr
	return addr
}

// input returns the host's (ptr, n) bytes, or false when they cannot be
// guest memory.
func input(ptr, n uint32) ([]byte, bool) {
	if n == 0 {
		return nil, true
	}
	if ptr == 0 || uint64(ptr)+uint64(n) > 1<<32 {
		return nil, false
	}
	return view(ptr, int(n)), true
}

func exportInit(ptr, n uint32) (rc int32) {
	if registered == nil {
		logs(abi.LogError, "mw_init: no plugin registered (call sdk.Register from init)")
		return -int32(abi.ErrNotSup)
	}
	cfg, ok := input(ptr, n)
	if !ok {
		logs(abi.LogError, "mw_init: config range ", hex(ptr), "+", n, " is outside memory")
		return -int32(abi.ErrInval)
	}
	in, ok := registered.(Initer)
	if !ok {
		return 0
	}
	defer settle()
	defer recoverTo("mw_init", &rc)
	if err := in.Init(cfg); err != nil {
		logs(abi.LogError, "config: ", err)
		return -int32(Errno(err, abi.ErrInval))
	}
	return 0
}

// exportProcess runs the plugin over the n descriptors in the batch area.
func exportProcess(n uint32) int32 {
	if registered == nil {
		return -int32(abi.ErrNotSup)
	}
	if g.batch == nil || n > g.batchMax {
		logs(abi.LogError, "mw_process(", n, "): batch area holds ", g.batchMax, " descriptors")
		return -int32(abi.ErrRange)
	}
	if err := g.load(n); err != nil {
		logs(abi.LogError, "mw_process: ", err)
		return -int32(abi.ErrInval)
	}
	rc := g.run()
	g.store()
	return rc
}

// load fills the burst from the batch header and descriptors.
func (g *guest) load(n uint32) error {
	hdr := g.batch
	if v := le.Uint32(hdr[abi.HdrVersion:]); v != abi.Version {
		return errors.New(join("batch header version ", v, ", want ", abi.Version))
	}
	if c := le.Uint32(hdr[abi.HdrCount:]); c != n {
		return errors.New(join("batch header count ", c, ", but called with n=", n))
	}
	b := &g.burst
	b.hdr = Header{
		NowNanos: le.Uint64(hdr[abi.HdrNowNanos:]),
		IfIndex:  le.Uint32(hdr[abi.HdrIfIndex:]),
		Queue:    le.Uint16(hdr[abi.HdrQueue:]),
		Flags:    le.Uint16(hdr[abi.HdrFlags:]),
		Snaplen:  le.Uint32(hdr[abi.HdrSnaplen:]),
		Headroom: le.Uint32(hdr[abi.HdrHeadroom:]),
	}
	b.n = 0
	room := b.hdr.Headroom
	descs := g.batch[abi.HeaderSize : abi.HeaderSize+int(n)*abi.DescSize]
	for i := range int(n) {
		d := descs[i*abi.DescSize : (i+1)*abi.DescSize]
		addr := le.Uint32(d[abi.DescData:])
		ln, cp := le.Uint16(d[abi.DescLen:]), le.Uint16(d[abi.DescCap:])
		if ln > cp || addr < room || addr == 0 || uint64(addr)+uint64(cp) > 1<<32 {
			return errors.New(join("descriptor ", i, ": data ", hex(addr), " len ", ln, " cap ", cp, " headroom ", room, " is not a packet"))
		}
		// Field by field, and never the slice: a Go guest's collector cannot
		// finish a cycle between calls (its workers only run inside one), so
		// write barriers may stay on, and a pointer store per packet would
		// cost hundreds of ns. Packets from the host are resolved with view.
		p := &b.pkts[i]
		p.addr = addr
		p.orig, p.off, p.n, p.end = int(room), int(room), int(ln), int(room)+int(cp)
		p.verdict = abi.Verdict(d[abi.DescVerdict])
		p.flags = d[abi.DescFlags]
		p.inPort = le.Uint16(d[abi.DescInPort:])
		p.meta = le.Uint32(d[abi.DescMeta:])
		p.fixed = p.flags&(abi.FlagTruncated|abi.FlagChained) != 0
	}
	b.n = int(n)
	return nil
}

func (g *guest) run() (rc int32) {
	defer recoverTo("mw_process", &rc)
	if err := registered.Process(&g.burst); err != nil {
		logs(abi.LogError, "process: ", err)
		return -int32(Errno(err, abi.ErrInternal))
	}
	return 0
}

// store writes each packet's verdict and shape back into its descriptor.
func (g *guest) store() {
	b := &g.burst
	for i := range b.pkts[:b.n] {
		p := &b.pkts[i]
		d := g.batch[abi.HeaderSize+i*abi.DescSize : abi.HeaderSize+(i+1)*abi.DescSize]
		le.PutUint32(d[abi.DescData:], uint32(int64(p.addr)+int64(p.off-p.orig)))
		le.PutUint16(d[abi.DescLen:], uint16(p.n))
		d[abi.DescVerdict] = byte(p.verdict)
		d[abi.DescFlags] = p.flags
		le.PutUint32(d[abi.DescMeta:], p.meta)
	}
}

func exportControl(ptr, n uint32) (rc int32) {
	c, ok := registered.(Controller)
	if !ok {
		return -int32(abi.ErrNotSup)
	}
	req, ok := input(ptr, n)
	if !ok {
		logs(abi.LogError, "mw_control: request range ", hex(ptr), "+", n, " is outside memory")
		return -int32(abi.ErrInval)
	}
	defer settle()
	defer recoverTo("mw_control", &rc)
	reply, err := c.Control(req, g.scratch[:0])
	if err != nil {
		logs(abi.LogError, "control: ", err)
		return -int32(Errno(err, abi.ErrInval))
	}
	return g.reply(reply)
}

// reply moves out into the message buffer and returns its length. The host
// reads replies at the address mw_msgbuf gave it, so a reply never moves the
// buffer: one that does not fit is an error.
func (g *guest) reply(out []byte) int32 {
	if cap(out) > cap(g.scratch) {
		g.scratch = out[:0]
	}
	if len(out) > len(g.msg) {
		logs(abi.LogError, "reply of ", len(out), " bytes exceeds the message buffer of ", len(g.msg))
		return -int32(abi.ErrRange)
	}
	copy(g.msg, out)
	return int32(len(out))
}

func exportStateSave() (rc int32) {
	s, ok := registered.(StateSaver)
	if !ok {
		return 0 // no state is an empty state
	}
	defer recoverTo("mw_state_save", &rc)
	state, err := s.SaveState(g.scratch[:0])
	if err != nil {
		logs(abi.LogError, "save state: ", err)
		return -int32(Errno(err, abi.ErrInternal))
	}
	return g.reply(state)
}

func exportStateLoad(ptr, n uint32) (rc int32) {
	l, ok := registered.(StateLoader)
	if !ok {
		if n == 0 {
			return 0
		}
		logs(abi.LogWarn, "mw_state_load: plugin keeps no state; ", n, " bytes ignored")
		return -int32(abi.ErrNotSup)
	}
	st, ok := input(ptr, n)
	if !ok {
		logs(abi.LogError, "mw_state_load: state range ", hex(ptr), "+", n, " is outside memory")
		return -int32(abi.ErrInval)
	}
	defer settle()
	defer recoverTo("mw_state_load", &rc)
	if err := l.LoadState(st); err != nil {
		logs(abi.LogError, "load state: ", err)
		return -int32(Errno(err, abi.ErrInval))
	}
	return 0
}

// recoverTo turns a panic in plugin code into ErrInternal and a log line, so a
// plugin bug fails one call with a reason instead of trapping without one.
func recoverTo(op string, rc *int32) {
	if r := recover(); r != nil {
		logs(abi.LogError, op, ": plugin panic: ", r)
		*rc = -int32(abi.ErrInternal)
	}
}
