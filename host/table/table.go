package table

import (
	"bytes"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/internal/mmap"
)

// Errors of table operations; each is wrapped with the table and the reason.
var (
	ErrFull     = errors.New("table full")
	ErrNotFound = errors.New("no such entry")
	ErrKeySize  = errors.New("wrong key size")
	ErrValSize  = errors.New("wrong value size")
	ErrIndex    = errors.New("array index out of range")
	ErrPrefix   = errors.New("bad prefix")
	ErrClosed   = errors.New("table closed")
)

var le = binary.LittleEndian

// Op is one change: a put of Key -> Value, or a delete of Key. An LPM
// table's key is the address (KeySize bytes) then the prefix length (1 byte),
// host bits zero.
type Op struct {
	Delete     bool
	Key, Value []byte
}

// Reader stands for one instance that maps tables: the host calls Enter
// before and Exit after every guest call, and a writer waits for readers
// inside a call to leave before it touches the copy they may be reading.
// Enter and Exit do not allocate.
type Reader struct {
	calls atomic.Uint64 // odd while inside a guest call
}

// Enter marks the start of a guest call. The increment is an atomic
// read-modify-write, a full barrier on amd64 and arm64, so the guest's loads
// that follow cannot be ordered before it.
func (r *Reader) Enter() { r.calls.Add(1) }

// Exit marks the end of a guest call.
func (r *Reader) Exit() { r.calls.Add(1) }

// Stats are a table's counters.
type Stats struct {
	Entries, Capacity     uint64
	Updates, FailedUpdate uint64 // operations applied; Apply calls refused
	Publications          uint64
}

// Table is one table's shared memory and its writer. It is safe for
// concurrent use.
type Table struct {
	spec Spec
	lay  Layout
	fdMu sync.RWMutex // Close takes it to close fd; MapFD holds it to use fd
	fd   int          // -1 after Close
	mem  []byte       // the host's own mapping; nil after Close

	active *atomic.Uint32
	gen    *atomic.Uint64

	mu     sync.Mutex // serialises writers and host reads
	state  counts     // the host's own counts, never read back from memory
	closed bool

	readersMu sync.Mutex
	readers   map[*Reader]struct{}

	ctr *counterState // counters tables only

	qmu sync.Mutex
	q   queue // changes plugins asked for, not yet published

	updates, failed, pubs atomic.Uint64
	entries               atomic.Uint32 // t.state.entries, for Stats without waiting for a writer
	release               func()        // gives the table's pages back to whoever was charged
}

// counts are what the host knows of a copy without reading it back.
type counts struct {
	entries uint32
	lens    [129]uint32 // LPM: prefixes of each length
}

// New creates an empty table for a valid spec: a memory file of
// spec.Layout().Bytes bytes, mapped for the host.
func New(spec Spec) (*Table, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	lay := spec.Layout()
	fd, err := mmap.Memfd("memif-wasm-table-"+spec.Name, int(lay.Bytes))
	if err != nil {
		return nil, fmt.Errorf("table %q: %w", spec.Name, err)
	}
	mem, err := mmap.MapFile(fd, int(lay.Bytes))
	if err != nil {
		mmap.Close(fd)
		return nil, fmt.Errorf("table %q: %w", spec.Name, err)
	}
	if spec.Kind == abi.TableCounters {
		t := &Table{spec: spec, lay: lay, fd: fd, mem: mem, readers: map[*Reader]struct{}{}}
		t.state.entries = spec.MaxEntries
		t.entries.Store(spec.MaxEntries)
		t.initCounters()
		return t, nil
	}
	var seed [4]byte
	crand.Read(seed[:])
	h := mem[:abi.TableHeaderSize]
	le.PutUint32(h[abi.TblMagic:], abi.TableMagic)
	le.PutUint32(h[abi.TblVersion:], abi.DeclVersion)
	le.PutUint32(h[abi.TblKind:], uint32(spec.Kind))
	le.PutUint32(h[abi.TblKeySize:], spec.KeySize)
	le.PutUint32(h[abi.TblValueSize:], spec.ValueSize)
	le.PutUint32(h[abi.TblMaxEntries:], spec.MaxEntries)
	le.PutUint32(h[abi.TblSlots:], lay.Slots)
	le.PutUint32(h[abi.TblSlotSize:], lay.SlotSize)
	le.PutUint32(h[abi.TblSeed:], le.Uint32(seed[:]))
	le.PutUint32(h[abi.TblCopy0:], uint32(lay.Copy[0]))
	le.PutUint32(h[abi.TblCopy1:], uint32(lay.Copy[1]))
	t := &Table{spec: spec, lay: lay, fd: fd, mem: mem, readers: map[*Reader]struct{}{},
		active: mmap.Uint32At(mem, abi.TblActive), gen: mmap.Uint64At(mem, abi.TblGeneration)}
	if spec.Kind == abi.TableArray {
		t.state.entries = spec.MaxEntries // every index exists
		t.entries.Store(spec.MaxEntries)
		for c := range 2 {
			t.writeCounts(c, &t.state)
		}
	}
	return t, nil
}

// Spec returns the table's declaration.
func (t *Table) Spec() Spec { return t.spec }

// Layout returns the table's layout.
func (t *Table) Layout() Layout { return t.lay }

// MapFD calls fn with the table's memory file, to map it into an
// instance, or returns ErrClosed: a table closed (replaced by a fresh one)
// since the module declaring it was admitted is never mapped by a number
// that may name another file by now.
func (t *Table) MapFD(fn func(fd int) error) error {
	t.fdMu.RLock()
	defer t.fdMu.RUnlock()
	if t.fd < 0 {
		return fmt.Errorf("table %q: %w", t.spec.Name, ErrClosed)
	}
	return fn(t.fd)
}

// AddReader registers r: from now on writers wait for it.
func (t *Table) AddReader(r *Reader) {
	t.readersMu.Lock()
	t.readers[r] = struct{}{}
	t.readersMu.Unlock()
}

// RemoveReader forgets r.
func (t *Table) RemoveReader(r *Reader) {
	t.readersMu.Lock()
	delete(t.readers, r)
	t.readersMu.Unlock()
}

func (t *Table) copyBytes(c int) []byte {
	off := t.lay.Copy[c]
	return t.mem[off : off+t.lay.CopyBytes : off+t.lay.CopyBytes]
}

func (t *Table) slot(c int, i uint32) []byte {
	b := t.copyBytes(c)[abi.CopyHeaderSize:]
	off := uint64(i) * uint64(t.lay.SlotSize)
	return b[off : off+uint64(t.lay.SlotSize) : off+uint64(t.lay.SlotSize)]
}

func (t *Table) seed() uint32 { return le.Uint32(t.mem[abi.TblSeed:]) }

// check validates op's sizes against the table.
func (t *Table) check(op *Op) error {
	if t.spec.Kind.IsLPM() {
		if err := t.checkPrefix(op.Key); err != nil {
			return err
		}
	} else if uint32(len(op.Key)) != t.spec.KeySize {
		return fmt.Errorf("%w: key of %d bytes, table %q takes %d", ErrKeySize, len(op.Key), t.spec.Name, t.spec.KeySize)
	}
	if !op.Delete && uint32(len(op.Value)) != t.spec.ValueSize {
		return fmt.Errorf("%w: value of %d bytes, table %q takes %d", ErrValSize, len(op.Value), t.spec.Name, t.spec.ValueSize)
	}
	if t.spec.Kind == abi.TableArray || t.spec.Kind == abi.TableCounters {
		if i := le.Uint32(op.Key); i >= t.spec.MaxEntries {
			return fmt.Errorf("%w: index %d, table %q has %d entries", ErrIndex, i, t.spec.Name, t.spec.MaxEntries)
		}
	}
	return nil
}

// checkPrefix validates an LPM key: address, then a length the family
// allows, with every host bit zero.
func (t *Table) checkPrefix(k []byte) error {
	a := int(t.spec.KeySize)
	if len(k) != a+1 {
		return fmt.Errorf("%w: key of %d bytes, table %q takes a %d-byte address and a prefix length", ErrKeySize, len(k), t.spec.Name, a)
	}
	l := int(k[a])
	if l > 8*a {
		return fmt.Errorf("%w: /%d is longer than the %d bits of table %q's addresses", ErrPrefix, l, 8*a, t.spec.Name)
	}
	for i := range a {
		keep := min(max(l-8*i, 0), 8)
		if k[i]&^byte(uint16(0xff00)>>keep) != 0 {
			return fmt.Errorf("%w: %x/%d has host bits set", ErrPrefix, k[:a], l)
		}
	}
	return nil
}

// slotKey is the key as a slot holds it: an LPM prefix's length goes first.
func (t *Table) slotKey(k []byte) []byte {
	if !t.spec.Kind.IsLPM() {
		return k
	}
	a := len(k) - 1
	return append([]byte{k[a]}, k[:a]...)
}

// opKey turns a slot's key back into the control plane's form.
func (t *Table) opKey(sk []byte) []byte {
	if !t.spec.Kind.IsLPM() {
		return sk
	}
	return append(append([]byte(nil), sk[1:]...), sk[0])
}

// find returns the slot holding key in copy c, or the empty slot where it
// would go, and whether it was found. The probe is bounded by the slot count
// whatever the memory holds.
func (t *Table) find(c int, key []byte) (uint32, bool) {
	h := abi.Hash(t.seed(), key)
	tag := h | abi.TagFull
	mask := t.lay.Slots - 1
	i := h & mask
	for range t.lay.Slots {
		s := t.slot(c, i)
		st := le.Uint32(s[abi.SlotTag:])
		if st == 0 {
			return i, false
		}
		if st == tag && bytes.Equal(s[abi.SlotKey:abi.SlotKey+len(key)], key) {
			return i, true
		}
		i = (i + 1) & mask
	}
	return i, false // every slot full: only possible if a guest wrote the copy
}

// apply does op on copy c, counting in *n.
func (t *Table) apply(c int, op *Op, n *counts) error {
	if t.spec.Kind == abi.TableArray {
		s := t.slot(c, le.Uint32(op.Key))
		if op.Delete {
			clear(s)
		} else {
			copy(s, op.Value)
		}
		return nil
	}
	key := t.slotKey(op.Key)
	i, found := t.find(c, key)
	voff := t.voff()
	if op.Delete {
		if !found {
			return fmt.Errorf("%w: table %q has no key %x", ErrNotFound, t.spec.Name, op.Key)
		}
		t.remove(c, i)
		n.entries--
		if t.spec.Kind.IsLPM() {
			n.lens[key[0]]--
		}
		return nil
	}
	s := t.slot(c, i)
	if !found {
		if n.entries >= t.spec.MaxEntries {
			return fmt.Errorf("%w: table %q holds its maximum of %d entries", ErrFull, t.spec.Name, t.spec.MaxEntries)
		}
		if le.Uint32(s[abi.SlotTag:]) != 0 {
			return fmt.Errorf("%w: table %q: no free slot (its memory was overwritten)", ErrFull, t.spec.Name)
		}
		copy(s[abi.SlotKey:], key)
		le.PutUint32(s[abi.SlotTag:], abi.Hash(t.seed(), key)|abi.TagFull)
		n.entries++
		if t.spec.Kind.IsLPM() {
			n.lens[key[0]]++
		}
	}
	copy(s[voff:], op.Value)
	return nil
}

func (t *Table) voff() uint32 {
	return abi.SlotValueOffset(abi.SlotKeySize(t.spec.Kind, t.spec.KeySize))
}

// writeCounts writes n into copy c's header: the count, and for LPM the
// bitmap of prefix lengths present.
func (t *Table) writeCounts(c int, n *counts) {
	h := t.copyBytes(c)[:abi.CopyHeaderSize]
	le.PutUint32(h[abi.CopyCount:], n.entries)
	if t.spec.Kind.IsLPM() {
		bm := h[abi.CopyLengths : abi.CopyLengths+17]
		clear(bm)
		for l, k := range n.lens {
			if k > 0 {
				bm[l/8] |= 1 << (l % 8)
			}
		}
	}
}

// remove empties slot i of copy c and shifts back the entries after it that
// probed past it, so no lookup needs a tombstone.
func (t *Table) remove(c int, i uint32) {
	mask := t.lay.Slots - 1
	clear(t.slot(c, i))
	j := i
	for range t.lay.Slots {
		j = (j + 1) & mask
		s := t.slot(c, j)
		tag := le.Uint32(s[abi.SlotTag:])
		if tag == 0 {
			return
		}
		home := tag & mask
		// The entry at j may move to the hole at i unless its home lies
		// cyclically in (i, j].
		if (j-home)&mask >= (j-i)&mask {
			copy(t.slot(c, i), s)
			clear(s)
			i = j
		}
	}
}

// Apply applies ops in order, all or nothing: either every op is published
// together or none is, and the error names the first that failed (wrong
// sizes, an index out of range, a full table, a delete of a missing key).
func (t *Table) Apply(ops []Op) error {
	if t.spec.Kind == abi.TableCounters {
		t.failed.Add(1)
		return fmt.Errorf("table %q: %w", t.spec.Name, ErrReadOnly)
	}
	for i := range ops {
		if err := t.check(&ops[i]); err != nil {
			t.failed.Add(1)
			return fmt.Errorf("op %d: %w", i, err)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	cur := int(t.active.Load())
	next := 1 - cur
	n := t.state
	for i := range ops {
		if err := t.apply(next, &ops[i], &n); err != nil {
			copy(t.copyBytes(next), t.copyBytes(cur)) // undo: nobody reads next
			t.failed.Add(1)
			return fmt.Errorf("op %d: %w", i, err)
		}
	}
	t.commit(cur, next, n, ops)
	return nil
}

// commit publishes copy next, where ops took the state to n, and brings
// copy cur level. The caller holds t.mu.
func (t *Table) commit(cur, next int, n counts, ops []Op) {
	t.writeCounts(next, &n)
	t.publish(next)
	// cur is unread now: bring it level by replaying the same ops, which
	// cannot fail on the same state; if a guest scribbled on it, copy instead.
	m := t.state
	for i := range ops {
		if t.apply(cur, &ops[i], &m) != nil || m != n {
			copy(t.copyBytes(cur), t.copyBytes(next))
			break
		}
	}
	t.writeCounts(cur, &n)
	t.state = n
	t.entries.Store(n.entries)
	t.updates.Add(uint64(len(ops)))
}

// Clear empties the table (arrays: every value zero), published at once.
func (t *Table) Clear() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if t.ctr != nil { // counters keep counting: the baseline moves
		for i := range t.spec.MaxEntries {
			t.ctr.base[i] += t.counter(i)
		}
		t.updates.Add(1)
		return nil
	}
	var n counts
	if t.spec.Kind == abi.TableArray {
		n.entries = t.spec.MaxEntries
	}
	cur := int(t.active.Load())
	next := 1 - cur
	for _, c := range []int{next, cur} {
		clear(t.copyBytes(c)[abi.CopyHeaderSize:])
		t.writeCounts(c, &n)
		if c == next {
			t.publish(next)
		}
	}
	t.state = n
	t.entries.Store(n.entries)
	t.updates.Add(1)
	return nil
}

// publish makes copy c the one readers use, then waits out every reader that
// was inside a guest call, so the other copy is unread when it returns.
func (t *Table) publish(c int) {
	t.active.Store(uint32(c))
	t.gen.Add(1)
	t.pubs.Add(1)
	t.readersMu.Lock()
	var inside []*Reader
	var at []uint64
	for r := range t.readers {
		if s := r.calls.Load(); s&1 == 1 {
			inside, at = append(inside, r), append(at, s)
		}
	}
	t.readersMu.Unlock()
	for i, r := range inside {
		for spin := 0; r.calls.Load() == at[i]; spin++ {
			// A guest call is bounded by its fuel (1 ms by default).
			if spin < 64 {
				runtime.Gosched()
			} else {
				time.Sleep(20 * time.Microsecond)
			}
		}
	}
}

// Get copies the value of key into val (which must have ValueSize bytes)
// and reports whether the key is present.
func (t *Table) Get(key, val []byte) (bool, error) {
	op := Op{Key: key, Value: val}
	if err := t.check(&op); err != nil {
		return false, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false, ErrClosed
	}
	if t.ctr != nil {
		le.PutUint64(val, t.counter(le.Uint32(key)))
		return true, nil
	}
	c := int(t.active.Load())
	if t.spec.Kind == abi.TableArray {
		copy(val, t.slot(c, le.Uint32(key)))
		return true, nil
	}
	i, ok := t.find(c, t.slotKey(key))
	if ok {
		copy(val, t.slot(c, i)[t.voff():])
	}
	return ok, nil
}

// Range calls fn with each entry (hash: in slot order; array: every index,
// key as a 4-byte little-endian index) until it returns false. The slices
// are valid only during the call. Writers wait until Range returns.
func (t *Table) Range(fn func(key, val []byte) bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	var k [4]byte
	if t.ctr != nil {
		var v [8]byte
		for i := range t.spec.MaxEntries {
			le.PutUint32(k[:], i)
			le.PutUint64(v[:], t.counter(i))
			if !fn(k[:], v[:]) {
				return nil
			}
		}
		return nil
	}
	c := int(t.active.Load())
	voff := t.voff()
	ks := abi.SlotKeySize(t.spec.Kind, t.spec.KeySize)
	for i := range t.lay.Slots {
		s := t.slot(c, i)
		if t.spec.Kind == abi.TableArray {
			le.PutUint32(k[:], i)
			if !fn(k[:], s[:t.spec.ValueSize]) {
				return nil
			}
			continue
		}
		if le.Uint32(s[abi.SlotTag:]) == 0 {
			continue
		}
		if !fn(t.opKey(s[abi.SlotKey:abi.SlotKey+ks]), s[voff:voff+t.spec.ValueSize]) {
			return nil
		}
	}
	return nil
}

// Stats returns the table's counters. It does not wait for a writer.
func (t *Table) Stats() Stats {
	return Stats{Entries: uint64(t.entries.Load()), Capacity: uint64(t.spec.MaxEntries),
		Updates: t.updates.Load(), FailedUpdate: t.failed.Load(), Publications: t.pubs.Load()}
}

// Readers is how many instances map the table now.
func (t *Table) Readers() int {
	t.readersMu.Lock()
	defer t.readersMu.Unlock()
	return len(t.readers)
}

// Close unmaps the host's view and closes the memory file; instances that
// still map the table keep their own mapping until they close. It is
// idempotent.
func (t *Table) Close() error {
	t.qmu.Lock()
	t.q.closed, t.q.pending = true, nil
	t.qmu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	t.fdMu.Lock()
	err := errors.Join(mmap.UnmapFile(t.mem), mmap.Close(t.fd))
	t.fd = -1
	t.fdMu.Unlock()
	t.mem = nil
	if t.release != nil {
		t.release()
	}
	return err
}

// sortedKeys is used by Store.List.
func sortedKeys(m map[Key]*Table) []Key {
	ks := make([]Key, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b Key) int {
		if c := cmpStr(a.Tenant, b.Tenant); c != 0 {
			return c
		}
		if c := cmpStr(a.Scope, b.Scope); c != 0 {
			return c
		}
		return cmpStr(a.Name, b.Name)
	})
	return ks
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
