package host

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/internal/fuel"
	"github.com/memif-wasm/memif-wasm/host/internal/mmap"
	"github.com/memif-wasm/memif-wasm/host/table"
)

// linearMemory is a guest's memory: one reservation of the module's maximum,
// made before instantiation so a failed mmap is an error, not a wazero panic.
// It is unmapped only once both wazero (module closed) and the Instance
// (Close) let go, so a host still holding a view never touches unmapped pages.
type linearMemory struct {
	mu           sync.Mutex
	res          *mmap.Reservation
	mem          []byte
	wazeroFreed  bool
	instanceDone bool
	// atCap records that memory.grow took the memory up to its cap, so a
	// fault that follows (a C guest traps, a Go guest aborts, when the next
	// grow fails) is classified as the memory budget rather than a plain
	// trap. wazero refuses a grow past the maximum itself, without calling
	// Reallocate, so reaching the cap is the last thing the host sees.
	atCap atomic.Bool
	size  uint64
}

func (l *linearMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(l.mem)) {
		l.atCap.Store(true)
		return nil // memory.grow returns -1: the cap is reached
	}
	if l.size != 0 && l.size < size {
		if size == uint64(len(l.mem)) {
			l.atCap.Store(true)
		}
		// Fault the grown pages in here, in Go: a page fault taken inside
		// compiled wasm holds off a stop-the-world GC, and on a VM first
		// touches cost microseconds per 4 KiB page that fuel does not see.
		// Best effort: without MADV_POPULATE_WRITE pages fault lazily.
		l.res.Populate(int(l.size), int(size-l.size))
	}
	l.size = size
	return l.mem[:size]
}

func (l *linearMemory) Free() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.wazeroFreed = true
	if l.instanceDone {
		l.res.Free()
	}
}

func (l *linearMemory) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.instanceDone = true
	if l.wazeroFreed {
		l.res.Free()
	}
}

// Instance is one instantiated plugin: its linear memory, its batch area,
// packet window and message buffer. An Instance is not safe for concurrent
// use; a Pipeline serialises bursts, control messages and reloads for the
// instances it owns.
type Instance struct {
	mod    *Module
	am     api.Module
	lm     *linearMemory
	mem    []byte // the whole reservation; never moves
	ctx    context.Context
	log    *guestLog
	closed bool
	booked bool // counted against the module's and tenant's budgets

	process, control, stateSave, stateLoad api.Function
	stack                                  []uint64
	fuel                                   api.MutableGlobal // nil when not metered
	stackLeft                              api.Global        // the stack budget left; nil when not metered

	batch, window, msgbuf uint32 // guest addresses
	slots                 uint32 // guest address of slot 0
	mapped                bool   // a region is mapped over the window
	mapSize               int
	mapRegion             uint16 // memif region index of the mapped region

	bs burstState

	tables []*table.Table // mapped into the guest's memory
	rows   []int          // per table: the counter row this instance writes, or -1
	reader table.Reader   // marks guest calls for the tables' writers
}

// Instantiate makes an instance, runs _initialize, checks the ABI version,
// asks for the batch area, window and message buffer, validates them and calls
// mw_init with the plugin's config. Errors are *LayoutError, *GuestError or
// *AdmissionError (wrong ABI version).
func (m *Module) Instantiate(ctx context.Context) (*Instance, error) {
	in, err := m.instantiate(ctx)
	if err != nil {
		return nil, err
	}
	if err := in.setup(); err != nil {
		in.Close(ctx)
		return nil, err
	}
	return in, nil
}

// instantiate runs the guest up to _initialize, without the ABI setup calls.
func (m *Module) instantiate(ctx context.Context) (*Instance, error) {
	if m.e.isClosed() {
		return nil, ErrClosed
	}
	if err := m.book(); err != nil {
		return nil, err
	}
	res, err := mmap.Reserve(int(m.memPages) * 65536)
	if err != nil {
		m.unbook()
		return nil, fmt.Errorf("plugin %q: reserve linear memory: %w", m.name, err)
	}
	lm := &linearMemory{res: res, mem: res.Bytes()}
	in := &Instance{mod: m, lm: lm, mem: lm.mem, stack: make([]uint64, 2), booked: true}
	gl := m.cfg.Logger
	if gl == nil {
		gl = m.e.logger.With("plugin", m.name)
	}
	in.log = newGuestLog(gl, m.e.cfg.LogRate, m.e.cfg.Clock)
	in.ctx = context.WithValue(context.Background(), guestLogKey{}, in.log)
	in.ctx = context.WithValue(in.ctx, instanceKey{}, in)

	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(). // _start is not ours to run; _initialize is called below
		WithSysNanotime().
		WithSysWalltime().
		WithRandSource(crand.Reader).
		WithStdout(in.log.writer("stdout")).
		WithStderr(in.log.writer("stderr"))
	ictx := experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(func(_, _ uint64) experimental.LinearMemory { return lm }))
	ictx = context.WithValue(ictx, guestLogKey{}, in.log)
	am, err := m.e.rt.InstantiateModule(ictx, m.compiled, mc)
	if err != nil {
		// The start function (if any) ran on the InitialFuel the rewriter
		// baked in; the global is gone with the failed module, so a fuel trap
		// there reads as a trap.
		lm.wazeroFreed = true // a failed instantiation may not have called Free
		in.closed = true
		lm.release()
		m.unbook()
		return nil, &GuestError{Module: m.name, Op: "instantiate", Err: in.memErr(err)}
	}
	in.am = am
	if m.info.Metered {
		// Resolved before _initialize so that call gets a budget set here and
		// its exhaustion is told apart from a guest trap.
		g, ok := am.ExportedGlobal(fuel.ExportName).(api.MutableGlobal)
		if !ok {
			in.Close(ctx)
			return nil, fmt.Errorf("plugin %q: metered module lacks its fuel global", m.name)
		}
		in.fuel = g
		in.log.fuel = g
		if in.stackLeft, ok = am.ExportedGlobal(fuel.StackExportName).(api.Global); !ok {
			in.Close(ctx)
			return nil, fmt.Errorf("plugin %q: metered module lacks its stack global", m.name)
		}
	}
	if f := am.ExportedFunction(abi.ExportInitialize); f != nil {
		if in.fuel != nil {
			in.fuel.Set(uint64(m.cfg.ColdFuel))
		}
		if _, err := f.Call(in.ctx); err != nil {
			in.Close(ctx)
			return nil, &GuestError{Module: m.name, Op: abi.ExportInitialize, Err: in.fuelErr(err)}
		}
	}
	in.process = am.ExportedFunction(abi.ExportProcess)
	in.control = am.ExportedFunction(abi.ExportControl)
	in.stateSave = am.ExportedFunction(abi.ExportStateSave)
	in.stateLoad = am.ExportedFunction(abi.ExportStateLoad)
	if !m.info.State {
		in.stateSave, in.stateLoad = nil, nil
	}
	return in, nil
}

// call runs a cold-path export with up to two i32 arguments and returns its i32 result.
func (in *Instance) call(name string, args ...uint32) (int32, error) {
	f := in.am.ExportedFunction(name)
	if f == nil {
		return 0, ErrNotSupported
	}
	for i, a := range args {
		in.stack[i] = api.EncodeU32(a)
	}
	if in.fuel != nil {
		in.fuel.Set(uint64(in.mod.cfg.ColdFuel))
	}
	in.reader.Enter()
	err := f.CallWithStack(in.ctx, in.stack)
	in.reader.Exit()
	if err != nil {
		return 0, &GuestError{Module: in.mod.name, Op: name, Err: in.fuelErr(err)}
	}
	return int32(uint32(in.stack[0])), nil
}

func (in *Instance) call0(name string) (int32, error) { return in.call(name) }

// fuelErr tells a fuel trap from the guest's own: both are "unreachable",
// only the fuel global's sign differs. It also marks a failure that followed
// a refused memory.grow.
func (in *Instance) fuelErr(err error) error {
	if in.fuel != nil && int64(in.fuel.Get()) < 0 {
		return errors.Join(ErrFuelExhausted, err)
	}
	if in.stackLeft != nil && int32(in.stackLeft.Get()) < 0 {
		return errors.Join(ErrStackExhausted, err)
	}
	return in.memErr(err)
}

func (in *Instance) memErr(err error) error {
	if in.lm.atCap.Load() {
		return errors.Join(ErrMemoryCap, err)
	}
	return err
}

// book reserves one instance against the module's and its tenant's budgets.
func (m *Module) book() error {
	if n := m.live.Add(1); int(n) > m.cfg.MaxInstances {
		m.live.Add(-1)
		if t := m.cfg.Tenant; t != nil {
			t.countRefused()
		}
		return fmt.Errorf("plugin %q: %w: %d instances already live (max %d)", m.name, ErrBudget, n-1, m.cfg.MaxInstances)
	}
	if t := m.cfg.Tenant; t != nil {
		if err := t.reserve(m.memPages); err != nil {
			m.live.Add(-1)
			return fmt.Errorf("plugin %q: %w", m.name, err)
		}
	}
	return nil
}

func (m *Module) unbook() {
	m.live.Add(-1)
	if t := m.cfg.Tenant; t != nil {
		t.release(m.memPages)
	}
}

func (in *Instance) memSize() uint64 { return uint64(in.am.Memory().Size()) }

func (in *Instance) layoutErr(what, format string, args ...any) error {
	return &LayoutError{Module: in.mod.name, What: what, Reason: fmt.Sprintf(format, args...)}
}

// area asks the guest for an address with fn(arg) and checks that
// [addr, addr+size) lies in its memory with the given alignment.
func (in *Instance) area(fn string, arg uint32, size uint64, align uint32) (uint32, error) {
	r, err := in.call(fn, arg)
	if err != nil {
		return 0, err
	}
	addr := uint32(r)
	switch {
	case addr == 0:
		return 0, in.layoutErr(fn, "returned 0: the guest cannot provide %d bytes", size)
	case addr%align != 0:
		return 0, in.layoutErr(fn, "address %#x is not %d-byte aligned", addr, align)
	case uint64(addr)+size > in.memSize():
		return 0, in.layoutErr(fn, "[%#x,+%d) lies outside the guest's %d bytes of memory", addr, size, in.memSize())
	}
	return addr, nil
}

func (in *Instance) setup() error {
	c := &in.mod.cfg
	v, err := in.call0(abi.ExportABIVersion)
	if err != nil {
		return err
	}
	if uint32(v) != abi.Version {
		return &AdmissionError{Module: in.mod.name, Code: AdmitABIVersion,
			Reason: fmt.Sprintf("%s returned %d, this host speaks ABI %d", abi.ExportABIVersion, uint32(v), abi.Version)}
	}
	bsize := uint64(abi.BatchSize(c.MaxBurst))
	if in.batch, err = in.area(abi.ExportBatch, uint32(c.MaxBurst), bsize, abi.BatchAlign); err != nil {
		return err
	}
	if in.window, err = in.area(abi.ExportWindow, uint32(c.WindowSize), uint64(c.WindowSize), abi.WindowAlign); err != nil {
		return err
	}
	if in.msgbuf, err = in.area(abi.ExportMsgBuf, uint32(c.MsgBufSize), uint64(c.MsgBufSize), 1); err != nil {
		return err
	}
	spans := []span{
		{abi.ExportBatch, uint64(in.batch), bsize},
		{abi.ExportWindow, uint64(in.window), uint64(c.WindowSize)},
		{abi.ExportMsgBuf, uint64(in.msgbuf), uint64(c.MsgBufSize)},
	}
	for i := range spans {
		for j := i + 1; j < len(spans); j++ {
			a, b := spans[i], spans[j]
			if a.addr < b.addr+b.len && b.addr < a.addr+a.len {
				return in.layoutErr(a.name, "overlaps %s", b.name)
			}
		}
	}
	if err := in.mapTables(spans); err != nil {
		return err
	}
	in.slots = in.window + uint32(c.mapArea())
	n := copy(in.mem[in.msgbuf:], c.Config)
	in.log.clearReason()
	r, err := in.call(abi.ExportInit, in.msgbuf, uint32(n))
	if err != nil {
		return err
	}
	if r != 0 {
		return &GuestError{Module: in.mod.name, Op: abi.ExportInit, Errno: r, Err: errnoOf(r), Reason: in.log.takeReason()}
	}
	return nil
}

// span is a range of guest memory the host uses, for overlap checks.
type span struct {
	name      string
	addr, len uint64
}

func errnoOf(r int32) error {
	if r < 0 {
		return abi.Errno(-r)
	}
	return fmt.Errorf("returned %d, want 0 or -errno", r)
}

// Control hands msg to mw_control and copies the reply into reply, returning
// its length. It must not run during a burst (a Pipeline serialises that). May
// return ErrNotSupported, ErrTooLarge or a *GuestError.
func (in *Instance) Control(msg, reply []byte) (int, error) {
	if in.closed {
		return 0, ErrClosed
	}
	if in.control == nil {
		return 0, ErrNotSupported
	}
	if len(msg) > in.mod.cfg.MsgBufSize {
		return 0, ErrTooLarge
	}
	n := copy(in.mem[in.msgbuf:], msg)
	in.log.clearReason()
	r, err := in.call(abi.ExportControl, in.msgbuf, uint32(n))
	if err != nil {
		return 0, err
	}
	if r < 0 {
		return 0, &GuestError{Module: in.mod.name, Op: abi.ExportControl, Errno: r, Err: abi.Errno(-r), Reason: in.log.takeReason()}
	}
	if int(r) > in.mod.cfg.MsgBufSize {
		return 0, in.layoutErr(abi.ExportControl, "reply length %d exceeds the message buffer", r)
	}
	return copy(reply, in.mem[in.msgbuf:in.msgbuf+uint32(r)]), nil
}

// SaveState calls mw_state_save and returns a copy of the state. May return
// ErrNotSupported or a *GuestError.
func (in *Instance) SaveState() ([]byte, error) {
	if in.closed {
		return nil, ErrClosed
	}
	if in.stateSave == nil {
		return nil, ErrNotSupported
	}
	r, err := in.call(abi.ExportStateSave)
	if err != nil {
		return nil, err
	}
	if r < 0 {
		return nil, &GuestError{Module: in.mod.name, Op: abi.ExportStateSave, Errno: r, Err: abi.Errno(-r)}
	}
	if int(r) > in.mod.cfg.MsgBufSize {
		return nil, in.layoutErr(abi.ExportStateSave, "state length %d exceeds the message buffer", r)
	}
	return append([]byte(nil), in.mem[in.msgbuf:in.msgbuf+uint32(r)]...), nil
}

// LoadState hands state to mw_state_load. May return ErrNotSupported,
// ErrTooLarge or a *GuestError.
func (in *Instance) LoadState(state []byte) error {
	if in.closed {
		return ErrClosed
	}
	if in.stateLoad == nil {
		return ErrNotSupported
	}
	if len(state) > in.mod.cfg.MsgBufSize {
		return ErrTooLarge
	}
	n := copy(in.mem[in.msgbuf:], state)
	r, err := in.call(abi.ExportStateLoad, in.msgbuf, uint32(n))
	if err != nil {
		return err
	}
	if r != 0 {
		return &GuestError{Module: in.mod.name, Op: abi.ExportStateLoad, Errno: r, Err: errnoOf(r)}
	}
	return nil
}

// MapWindow maps size bytes of fd (a memif buffer region) over the start of
// the guest's window with MAP_SHARED|MAP_FIXED: from then on a packet at
// region offset o is at guest address window+o, and the guest reads the bytes
// the peer wrote. size is rounded up to a page. May return ErrNoZeroCopy.
func (in *Instance) MapWindow(fd, size int) error { return in.MapWindowAt(fd, 0, size) }

// MapWindowAt is MapWindow for a region that starts at fileOff (page-aligned) in fd.
func (in *Instance) MapWindowAt(fd int, fileOff int64, size int) error {
	if in.closed {
		return ErrClosed
	}
	if size <= 0 || mmap.RoundUp(size) > in.mod.cfg.mapArea() {
		return fmt.Errorf("%w: region of %d bytes, window map area of %d", ErrNoZeroCopy, size, in.mod.cfg.mapArea())
	}
	if in.mapped {
		if err := in.UnmapWindow(); err != nil {
			return err
		}
	}
	n := mmap.RoundUp(size)
	if err := in.lm.res.MapShared(int(in.window), n, fd, fileOff); err != nil {
		return errors.Join(ErrNoZeroCopy, err)
	}
	in.mapped, in.mapSize = true, size
	return nil
}

// UnmapWindow puts private zero pages back where MapWindow mapped a region.
func (in *Instance) UnmapWindow() error {
	if !in.mapped || in.closed {
		return nil
	}
	in.mapped = false
	return in.lm.res.Unmap(int(in.window), mmap.RoundUp(in.mapSize))
}

// Close closes the guest and unmaps its memory. It is idempotent.
func (in *Instance) Close(ctx context.Context) error {
	if in.closed {
		return nil
	}
	in.closed = true
	in.unmapTables()
	var err error
	if in.am != nil {
		err = in.am.Close(ctx)
	}
	in.lm.release()
	if in.booked {
		in.booked = false
		in.mod.unbook()
	}
	return err
}
