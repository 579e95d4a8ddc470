package table

import (
	"errors"
	"fmt"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/internal/mmap"
)

// Errors of counter tables.
var (
	ErrReadOnly = errors.New("counters are written by the plugin, not the control plane")
	ErrNoRow    = errors.New("no free counter row")
)

// counterState is what the host keeps of a counters table: which rows are
// mapped, what rows released since held (their instances' counts live on),
// and the baseline a Clear set.
type counterState struct {
	used    [abi.MaxCounterRows]bool
	retired []uint64
	base    []uint64
}

func (t *Table) initCounters() {
	t.ctr = &counterState{retired: make([]uint64, t.spec.MaxEntries), base: make([]uint64, t.spec.MaxEntries)}
	for r := range abi.MaxCounterRows {
		h := t.row(r)[:abi.CounterHeaderSize]
		le.PutUint32(h[abi.RowMagic:], abi.CounterMagic)
		le.PutUint32(h[abi.RowVersion:], abi.DeclVersion)
		le.PutUint32(h[abi.RowKind:], uint32(abi.TableCounters))
		le.PutUint32(h[abi.RowMaxEntries:], t.spec.MaxEntries)
		le.PutUint32(h[abi.RowIndex:], uint32(r))
	}
}

func (t *Table) row(r int) []byte {
	n := t.lay.GuestBytes
	return t.mem[uint64(r)*n : uint64(r+1)*n : uint64(r+1)*n]
}

// AcquireRow gives an instance a row of a counters table, returning the
// row and its offset in FD, to map over the range mw_table returned.
func (t *Table) AcquireRow() (int, int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return 0, 0, ErrClosed
	}
	if t.ctr == nil {
		return 0, 0, fmt.Errorf("table %q is not a counters table", t.spec.Name)
	}
	for r, u := range t.ctr.used {
		if !u {
			t.ctr.used[r] = true
			return r, int64(uint64(r) * t.lay.GuestBytes), nil
		}
	}
	return 0, 0, fmt.Errorf("%w: table %q has %d instances mapping it", ErrNoRow, t.spec.Name, abi.MaxCounterRows)
}

// ReleaseRow returns a row whose instance is gone: its counts are kept
// (folded into the table's) and the row is zeroed for the next instance.
func (t *Table) ReleaseRow(r int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctr == nil || r < 0 || r >= abi.MaxCounterRows || !t.ctr.used[r] || t.closed {
		return
	}
	row := t.row(r)[abi.CounterHeaderSize:]
	for i := range t.spec.MaxEntries {
		t.ctr.retired[i] += mmap.Uint64At(row, int(8*i)).Load()
	}
	clear(row[:8*t.spec.MaxEntries])
	t.ctr.used[r] = false
}

// counter sums index i over the rows in use, the released rows and the
// baseline of the last Clear. Each u64 is read with an atomic load: a
// guest's aligned 8-byte store is seen whole or not at all.
func (t *Table) counter(i uint32) uint64 {
	v := t.ctr.retired[i] - t.ctr.base[i]
	for r, u := range t.ctr.used {
		if u {
			v += mmap.Uint64At(t.row(r), int(abi.CounterHeaderSize+8*i)).Load()
		}
	}
	return v
}
