package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/tetratelabs/wazero/api"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/internal/wasmbin"
	"github.com/memif-wasm/memif-wasm/host/table"
)

// Tables returns the engine's table store: every table its plugins declared,
// for the control plane to read and update.
func (e *Engine) Tables() *table.Store { return e.tables }

// TableKey is the key of the plugin's table name.
func (m *Module) TableKey(name string) table.Key {
	tenant := ""
	if t := m.cfg.Tenant; t != nil {
		tenant = t.cfg.Name
	}
	return table.Key{Tenant: tenant, Scope: m.cfg.TableScope, Name: name}
}

// Tables returns the module's tables, in declaration order.
func (m *Module) Tables() []*table.Table { return slices.Clone(m.tables) }

// declareTables reads the module's table declarations, checks that they fit
// its memory beside the window, the message buffer and the batch area, and
// claims each table from the engine's store (charging new ones to the
// tenant). The claims are committed or aborted when admission ends.
func (m *Module) declareTables(parsed *wasmbin.Module) *AdmissionError {
	if parsed.Tables == nil {
		return nil
	}
	decls, err := table.ParseDecls(parsed.Tables)
	if err != nil {
		return m.refuse(AdmitTables, err, "section %s", abi.SectionTables)
	}
	m.info.Tables = decls
	if len(decls) == 0 {
		return nil
	}
	if !slices.ContainsFunc(parsed.Exports, func(x wasmbin.Export) bool { return x.Name == abi.ExportTable }) {
		return m.refuse(AdmitTables, nil, "declares %d tables but does not export %s", len(decls), abi.ExportTable)
	}
	c := &m.cfg
	need := uint64(c.WindowSize) + uint64(c.MsgBufSize) + uint64(abi.BatchSize(c.MaxBurst))
	for _, d := range decls {
		need += d.Layout().GuestBytes
	}
	if have := uint64(m.memPages) * 65536; need > have {
		return m.refuse(AdmitTables, nil, "its tables, window, message buffer and batch area need %d bytes, over its memory of %d (%d pages)", need, have, m.memPages)
	}
	var charge func(uint64) (func(), error)
	if t := c.Tenant; t != nil {
		charge = t.reserveTable
	}
	for _, d := range decls {
		cl, err := m.e.tables.Prepare(m.TableKey(d.Name), d.Spec, c.FreshTables, charge)
		if err != nil {
			return m.refuse(AdmitTables, err, "table %q", d.Name)
		}
		m.claims = append(m.claims, cl)
		m.tables = append(m.tables, cl.Table())
	}
	return nil
}

// reserveTable charges a table's pages to the tenant's memory budget, once
// per table (every instance maps the same pages).
func (t *Tenant) reserveTable(pages uint64) (func(), error) {
	t.budgetMu.Lock()
	defer t.budgetMu.Unlock()
	if t.cfg.MaxMemoryPages > 0 && t.pages+pages > t.cfg.MaxMemoryPages {
		t.refused++
		return nil, fmt.Errorf("%w: tenant %q has %d of %d memory pages in use, the table needs %d",
			ErrBudget, t.cfg.Name, t.pages, t.cfg.MaxMemoryPages, pages)
	}
	t.pages += pages
	return func() {
		t.budgetMu.Lock()
		t.pages -= pages
		t.budgetMu.Unlock()
	}, nil
}

// mapTables asks the guest where each table goes (mw_table), checks the
// range against the instance's other areas and maps the table there.
func (in *Instance) mapTables(spans []span) error {
	for i, t := range in.mod.tables {
		size := t.Layout().GuestBytes
		r, err := in.call(abi.ExportTable, uint32(i), uint32(size))
		if err != nil {
			return err
		}
		addr := uint32(r)
		switch {
		case addr == 0:
			return in.layoutErr(abi.ExportTable, "returned 0 for table %q: the guest cannot provide %d bytes", t.Spec().Name, size)
		case addr%abi.WindowAlign != 0:
			return in.layoutErr(abi.ExportTable, "table %q: address %#x is not %d-byte aligned", t.Spec().Name, addr, abi.WindowAlign)
		case uint64(addr)+size > in.memSize():
			return in.layoutErr(abi.ExportTable, "table %q: [%#x,+%d) lies outside the guest's %d bytes of memory", t.Spec().Name, addr, size, in.memSize())
		}
		for _, s := range spans {
			if uint64(addr) < s.addr+s.len && s.addr < uint64(addr)+size {
				return in.layoutErr(abi.ExportTable, "table %q overlaps %s", t.Spec().Name, s.name)
			}
		}
		var off int64
		row := -1
		if t.Spec().Kind == abi.TableCounters { // the instance's own row: it writes there alone
			var err error
			if row, off, err = t.AcquireRow(); err != nil {
				return fmt.Errorf("plugin %q: %w", in.mod.name, err)
			}
		}
		if err := t.MapFD(func(fd int) error { return in.lm.res.MapShared(int(addr), int(size), fd, off) }); err != nil {
			if row >= 0 {
				t.ReleaseRow(row)
			}
			return fmt.Errorf("plugin %q: map table %q: %w", in.mod.name, t.Spec().Name, err)
		}
		t.AddReader(&in.reader)
		in.tables = append(in.tables, t)
		in.rows = append(in.rows, row)
		spans = append(spans, span{"table " + t.Spec().Name, uint64(addr), size})
	}
	return nil
}

// unmapTables stops the tables' writers waiting for this instance and gives
// back its counter rows; the mappings go with the reservation. It runs when
// the instance closes, when no guest call can be running.
func (in *Instance) unmapTables() {
	for i, t := range in.tables {
		t.RemoveReader(&in.reader)
		if in.rows[i] >= 0 {
			t.ReleaseRow(in.rows[i]) // the instance is done writing: fold its counts in
		}
	}
	in.tables, in.rows = nil, nil
}

// instanceKey carries the Instance in the context of its guest calls, for
// the table host functions.
type instanceKey struct{}

// tableCallFuel is charged per table host call: about the host time a queued
// change takes at the default fuel rate (it copies the key and value and
// takes a lock; publishing happens elsewhere).
const tableCallFuel = 300

func hostTablePut(ctx context.Context, m api.Module, stack []uint64) {
	r := tableCall(ctx, m, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2]), false)
	stack[0] = api.EncodeI32(r)
}

func hostTableDelete(ctx context.Context, m api.Module, stack []uint64) {
	r := tableCall(ctx, m, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), 0, true)
	stack[0] = api.EncodeI32(r)
}

// tableCall queues a guest's change to its declared table index: 0, or
// -errno (EINVAL: no such table, not declared writable, a range outside
// memory or a bad prefix; ERANGE: an array index out of range; NOMEM: the
// table's queue is full). The guest's own lookups see the change only once
// it is published, after the current call.
func tableCall(ctx context.Context, m api.Module, index, keyPtr, valPtr uint32, del bool) int32 {
	in, _ := ctx.Value(instanceKey{}).(*Instance)
	if in == nil {
		return -int32(abi.ErrInval)
	}
	if in.fuel != nil {
		in.fuel.Set(uint64(int64(in.fuel.Get()) - tableCallFuel))
	}
	if int(index) >= len(in.tables) || !in.mod.info.Tables[index].Write {
		return -int32(abi.ErrInval)
	}
	t := in.tables[index]
	s := t.Spec()
	key, ok := m.Memory().Read(keyPtr, abi.SlotKeySize(s.Kind, s.KeySize))
	if !ok {
		return -int32(abi.ErrInval)
	}
	op := table.Op{Delete: del, Key: bytes.Clone(key)}
	if !del {
		val, ok := m.Memory().Read(valPtr, s.ValueSize)
		if !ok {
			return -int32(abi.ErrInval)
		}
		op.Value = bytes.Clone(val)
	}
	switch err := t.Enqueue(op); {
	case err == nil:
		return 0
	case errors.Is(err, table.ErrQueueFull):
		return -int32(abi.ErrNoMem)
	case errors.Is(err, table.ErrIndex):
		return -int32(abi.ErrRange)
	}
	return -int32(abi.ErrInval)
}
