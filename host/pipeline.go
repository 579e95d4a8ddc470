package host

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/sys"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/internal/mmap"
)

// Restart backoff after a plugin fault.
const (
	restartBackoffMin = 50 * time.Millisecond
	restartBackoffMax = 10 * time.Second
)

// Pipeline runs plugins in order over bursts for one worker: each plugin has
// its own instance here, and a packet a plugin PASSes goes on to the next
// (the next plugin sees only survivors). All methods are safe for concurrent
// use: bursts, control messages, region changes, reloads and stats reads are
// serialised by one mutex, uncontended on the packet path.
type Pipeline struct {
	mu     sync.Mutex
	stages []*stage
	idx    []uint16 // survivors of the previous stage
	next   []uint16
	epoch  time.Time
	closed bool
	tenant *Tenant // owner of every module in the pipeline, or nil
	// failClosed counts the packets a fail-closed policy dropped in the
	// burst ProcessBurst is running: their DROP is not a plugin's.
	failClosed int

	// The mapped region, remembered so restarts and reloads map it too. fd is
	// our own duplicate.
	zc struct {
		on      bool
		fd      int
		fileOff int64
		size    int
		region  uint16
		tenant  *Tenant // the region's, for an empty pipeline that adopts one
	}
}

type stage struct {
	mod     *Module
	inst    *Instance // nil after a fault until restarted
	fault   error
	retryAt time.Time
	backoff time.Duration
	// Faults since windowStart; reaching the module's QuarantineFaults
	// within its QuarantineWindow quarantines the stage.
	windowStart  time.Time
	windowFaults int
	quarantined  bool
	stats        PluginStats
}

// NewPipeline instantiates each module once, in order.
func NewPipeline(ctx context.Context, mods ...*Module) (*Pipeline, error) {
	p := &Pipeline{
		epoch: time.Now(),
		idx:   make([]uint16, 0, abi.MaxBurst),
		next:  make([]uint16, 0, abi.MaxBurst),
	}
	if len(mods) > 0 {
		p.tenant = mods[0].cfg.Tenant
	}
	for _, m := range mods {
		if m.cfg.Tenant != p.tenant {
			return nil, fmt.Errorf("host: plugin %q belongs to tenant %v, the pipeline to %v", m.name, m.cfg.Tenant, p.tenant)
		}
	}
	for _, m := range mods {
		in, err := m.Instantiate(ctx)
		if err != nil {
			p.Close(ctx)
			return nil, err
		}
		p.stages = append(p.stages, &stage{mod: m, inst: in})
	}
	if p.tenant != nil {
		p.tenant.addPipeline(p)
	}
	return p, nil
}

// Process runs the burst through the plugins and sets every packet's Verdict
// (and Off/Len/Port as the plugins left them). Packets beyond abi.MaxBurst are
// processed in further calls of each plugin. It does not allocate. A plugin
// fault is not returned: its packets get the plugin's fail policy, the fault
// is counted, and the plugin is restarted on a later burst.
func (p *Pipeline) Process(b *Burst) { p.ProcessBurst(b) }

// BurstResult is what ProcessBurst reports besides the verdicts.
type BurstResult struct {
	// Start is when processing began on the pipeline's clock (Elapsed),
	// read once for the guests' clock anyway: a caller that times its
	// bursts needs only one more reading.
	Start time.Duration
	// FailClosed counts the packets that got DROP from a fail-closed
	// policy, Closed those that got it because the pipeline was closed:
	// the rest of the DROPs are plugins' verdicts.
	FailClosed, Closed int
}

// ProcessBurst is Process reporting when it started and who dropped what.
// It does not allocate.
func (p *Pipeline) ProcessBurst(b *Burst) (r BurstResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failClosed = 0
	if p.closed {
		r.Closed = len(b.Packets)
	}
	for off := 0; off < len(b.Packets); off += abi.MaxBurst {
		// Indices are u16 and relative to the chunk, so any burst length works.
		chunk := Burst{Packets: b.Packets[off:min(len(b.Packets), off+abi.MaxBurst)], IfIndex: b.IfIndex, Queue: b.Queue}
		t := p.process(&chunk, b, off)
		if off == 0 {
			r.Start = t
		}
	}
	r.FailClosed = p.failClosed
	return r
}

// Elapsed is the pipeline's clock for timing bursts and guest calls: the
// monotonic time since the pipeline was created, a single monotonic read
// (about half the cost of time.Now on a VM's kvm-clock).
func (p *Pipeline) Elapsed() time.Duration { return time.Since(p.epoch) }

// process runs chunk, which is whole's packets from first on.
func (p *Pipeline) process(b, whole *Burst, first int) (start time.Duration) {
	start = p.Elapsed()
	idx := p.idx[:0]
	for i := range b.Packets {
		b.Packets[i].Verdict = abi.Pass
		idx = append(idx, uint16(i))
	}
	if p.closed {
		for _, i := range idx {
			b.Packets[i].Verdict = abi.Drop
		}
		return start
	}
	now := uint64(start)
	// Each guest call is timed from the previous reading: one clock read
	// per call, the host's hand-over between calls counted with them.
	clock := start
	for si, s := range p.stages {
		if len(idx) == 0 {
			break
		}
		for c := 0; c < len(idx); c += s.mod.cfg.MaxBurst {
			call := idx[c:min(len(idx), c+s.mod.cfg.MaxBurst)]
			before := clock
			clock = p.runStage(s, b, call, now, clock)
			if whole.Observer != nil {
				p.observe(si, s, whole, first, call, clock-before)
			}
		}
		next := p.next[:0]
		for _, i := range idx {
			if b.Packets[i].Verdict == abi.Pass {
				next = append(next, i)
			}
		}
		p.idx, p.next = next, idx
		idx = next
	}
	return start
}

// runStage hands idx to plugin s; clock is a reading taken just before. It
// returns a reading taken after the call (clock itself when no call was
// made), for the next call's start.
func (p *Pipeline) runStage(s *stage, b *Burst, idx []uint16, now uint64, clock time.Duration) time.Duration {
	if s.quarantined {
		p.failPolicy(s, b, idx)
		return clock
	}
	if s.inst == nil {
		if !p.restart(s) {
			p.failPolicy(s, b, idx)
			return p.Elapsed()
		}
		clock = p.Elapsed() // instantiating is not part of the call
	}
	err := s.inst.runBurst(b, idx, now, &s.stats)
	end := p.Elapsed()
	s.stats.recordCall(end - clock)
	if err == nil {
		return end
	}
	// The instance is not trusted after any fault: a trap unwinds the
	// guest without its cleanup (a Go runtime may be left inconsistent),
	// and a guest that broke the ABI once may have corrupted its state.
	s.stats.Faults++
	s.inst.Close(context.Background())
	s.inst = nil
	reason := faultReason(err)
	p.fault(s, err, reason)
	if reason != FaultABI {
		p.failPolicy(s, b, idx)
	}
	// After an ABI violation the refused packets are already ABORTED and
	// the others carry verdicts that passed validation.
	return p.Elapsed() // closing the instance is not part of the next call
}

// faultReason classifies a failed mw_process call.
func faultReason(err error) FaultReason {
	var exit *sys.ExitError
	var ge *GuestError
	switch {
	case errors.Is(err, ErrFuelExhausted):
		return FaultFuel
	case errors.Is(err, ErrStackExhausted):
		return FaultStack
	case errors.Is(err, ErrMemoryCap):
		return FaultMemory
	case errors.Is(err, ErrABIViolation):
		return FaultABI
	case errors.As(err, &exit):
		return FaultExit
	case errors.As(err, &ge) && ge.Errno != 0:
		return FaultErrno
	}
	return FaultTrap
}

// fault records a fault of s (its instance already gone) and schedules the
// restart with exponential backoff, or quarantines the stage.
func (p *Pipeline) fault(s *stage, err error, reason FaultReason) {
	now := s.mod.e.cfg.Clock.Now()
	s.fault = err
	s.stats.FaultReasons[reason]++
	cfg := &s.mod.cfg
	if s.windowFaults == 0 || now.Sub(s.windowStart) > cfg.QuarantineWindow {
		s.windowStart, s.windowFaults = now, 0
	}
	s.windowFaults++
	if s.windowFaults >= cfg.QuarantineFaults {
		s.quarantined = true
		s.stats.Quarantines++
		s.stats.Quarantined = 1
		return
	}
	s.backoff = restartBackoffMax
	if shift := s.windowFaults - 1; shift < 16 {
		s.backoff = min(restartBackoffMin<<shift, restartBackoffMax)
	}
	s.retryAt = now.Add(s.backoff)
}

func (p *Pipeline) failPolicy(s *stage, b *Burst, idx []uint16) {
	v := abi.Drop
	if s.mod.cfg.FailOpen {
		v = abi.Pass
	} else {
		p.failClosed += len(idx)
	}
	for _, i := range idx {
		b.Packets[i].Verdict = v
	}
	s.stats.FaultPackets += uint64(len(idx))
}

// restart re-instantiates a faulted plugin once its backoff has passed.
func (p *Pipeline) restart(s *stage) bool {
	if s.mod.e.cfg.Clock.Now().Before(s.retryAt) {
		return false
	}
	in, err := p.newInstance(context.Background(), s.mod)
	if err != nil {
		s.stats.RestartFailures++
		p.fault(s, err, FaultInit)
		return false
	}
	s.inst, s.fault = in, nil
	s.stats.Restarts++
	return true
}

// newInstance instantiates m and maps the current region, if any; p.mu is held.
func (p *Pipeline) newInstance(ctx context.Context, m *Module) (*Instance, error) {
	in, err := m.Instantiate(ctx)
	if err != nil {
		return nil, err
	}
	p.mapInto(in)
	return in, nil
}

// mapInto maps the attached region into in, leaving it in copy placement if
// the region does not fit its window.
func (p *Pipeline) mapInto(in *Instance) {
	if !p.zc.on {
		return
	}
	if in.MapWindowAt(p.zc.fd, p.zc.fileOff, p.zc.size) == nil {
		in.mapRegion = p.zc.region
	}
}

// AttachRegion tells the pipeline about a connection's buffer region (a memif
// region index, its fd and facts). When ChoosePlacement allows it, the region
// is mapped into every plugin's window and packets in it are shown in place;
// a plugin whose window is too small stays in copy placement. The pipeline
// keeps its own duplicate of fd. It returns the placement of the first plugin.
func (p *Pipeline) AttachRegion(region uint16, fd int, r RegionFacts) (Placement, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return PlacementCopy, ErrClosed
	}
	p.detachLocked()
	if p.tenant != nil && r.Tenant != p.tenant {
		// Mapping it would show another tenant's packets to these guests.
		return PlacementCopy, fmt.Errorf("%w: region %d is tenant %v's, the pipeline tenant %v's", ErrForeignRegion, region, r.Tenant, p.tenant)
	}
	if ChoosePlacement(r) != PlacementZeroCopy {
		return PlacementCopy, nil
	}
	dup, err := mmap.Dup(fd)
	if err != nil {
		return PlacementCopy, fmt.Errorf("host: attach region %d: %w", region, err)
	}
	p.zc.on, p.zc.fd, p.zc.fileOff, p.zc.size, p.zc.region = true, dup, r.FileOffset, r.Size, region
	p.zc.tenant = r.Tenant
	for _, s := range p.stages {
		if s.inst != nil {
			p.mapInto(s.inst)
		}
	}
	if len(p.stages) > 0 && (p.stages[0].inst == nil || !p.stages[0].inst.mapped) {
		return PlacementCopy, nil
	}
	return PlacementZeroCopy, nil
}

// DetachRegion unmaps the region from every plugin (the connection is gone);
// bursts are copied from then on.
func (p *Pipeline) DetachRegion() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.detachLocked()
}

func (p *Pipeline) detachLocked() {
	if !p.zc.on {
		return
	}
	for _, s := range p.stages {
		if s.inst != nil {
			s.inst.UnmapWindow()
		}
	}
	mmap.Close(p.zc.fd)
	p.zc.on = false
}

// Control sends msg to plugin i's mw_control between bursts and copies the
// reply into reply. May return ErrNotSupported, ErrTooLarge, a *GuestError, or
// the plugin's last fault when it is awaiting a restart.
func (p *Pipeline) Control(i int, msg, reply []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, err := p.stage(i)
	if err != nil {
		return 0, err
	}
	if s.inst == nil {
		return 0, fmt.Errorf("host: plugin %q is down: %w", s.mod.name, s.fault)
	}
	n, err := s.inst.Control(msg, reply)
	if err != nil && controlFaulted(err) {
		// As after a faulted burst: a trap, fuel exhaustion or broken reply
		// leaves the instance untrusted, so it goes and is restarted later.
		s.stats.Faults++
		s.inst.Close(context.Background())
		s.inst = nil
		p.fault(s, err, faultReason(err))
	}
	return n, err
}

// controlFaulted tells a failed mw_control call that faults the instance from
// a refusal the plugin returned itself or a request the host refused before
// calling it.
func controlFaulted(err error) bool {
	var ge *GuestError
	switch {
	case errors.Is(err, ErrNotSupported), errors.Is(err, ErrTooLarge), errors.Is(err, ErrClosed):
		return false
	case errors.As(err, &ge) && ge.Errno != 0:
		return false
	}
	return true
}

func (p *Pipeline) stage(i int) (*stage, error) {
	if p.closed {
		return nil, ErrClosed
	}
	if i < 0 || i >= len(p.stages) {
		return nil, fmt.Errorf("host: no plugin %d in a pipeline of %d", i, len(p.stages))
	}
	return p.stages[i], nil
}

// ReadStats appends a copy of each plugin's counters, in pipeline order, to dst.
func (p *Pipeline) ReadStats(dst []PluginStats) []PluginStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.stages {
		dst = append(dst, s.stats)
		if s.inst != nil {
			dst[len(dst)-1].MemoryBytes = s.inst.memSize()
		}
	}
	return dst
}

// Fault returns plugin i's last fault, nil if it is running. While the
// plugin is quarantined the error wraps ErrQuarantined and the last fault.
func (p *Pipeline) Fault(i int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, err := p.stage(i)
	if err != nil {
		return err
	}
	if s.quarantined {
		return fmt.Errorf("%w; last fault: %w", ErrQuarantined, s.fault)
	}
	return s.fault
}

// Quarantined reports whether plugin i is quarantined.
func (p *Pipeline) Quarantined(i int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, err := p.stage(i)
	return err == nil && s.quarantined
}

// Unquarantine lets a quarantined plugin i be restarted on the next burst
// (an operator's decision; Replace does the same with a new version).
func (p *Pipeline) Unquarantine(i int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, err := p.stage(i)
	if err != nil {
		return err
	}
	s.unquarantine()
	return nil
}

func (s *stage) unquarantine() {
	s.quarantined = false
	s.windowFaults = 0
	s.retryAt = time.Time{}
	s.stats.Quarantined = 0
}

// Tenant returns the tenant owning the pipeline's plugins, or nil.
func (p *Pipeline) Tenant() *Tenant { return p.tenant }

// Close closes every instance; later bursts drop everything. It is idempotent.
func (p *Pipeline) Close(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.detachLocked()
	p.closed = true
	var errs []error
	final := make([]PluginStats, 0, len(p.stages))
	for _, s := range p.stages {
		if s.inst != nil {
			errs = append(errs, s.inst.Close(ctx))
			s.inst = nil
		}
		final = append(final, s.stats)
	}
	if p.tenant != nil {
		// Under p.mu is safe: the tenant never takes p.mu while holding listMu.
		p.tenant.removePipeline(p, final)
	}
	return errors.Join(errs...)
}
