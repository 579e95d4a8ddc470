package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/internal/fuel"
	"github.com/memif-wasm/memif-wasm/host/internal/wasmbin"
	"github.com/memif-wasm/memif-wasm/host/table"
)

// wasiAllowed is the WASI subset Go (GOOS=wasip1) reactors import: the
// runtime's needs plus the file calls package os links in. The file calls
// are harmless here because the sandbox is in the instance's config, not in
// this list: WASI gets no preopened directory (so path_open has no directory
// to resolve against and fails with EBADF), no arguments, no environment, an
// empty stdin, and stdout/stderr that only reach the rate-limited log.
var wasiAllowed = map[string]bool{
	"args_get": true, "args_sizes_get": true, "environ_get": true, "environ_sizes_get": true,
	"clock_time_get": true, "clock_res_get": true, "random_get": true, "poll_oneoff": true,
	"sched_yield": true, "proc_exit": true, "fd_write": true, "fd_read": true, "fd_close": true,
	"fd_seek": true, "fd_filestat_get": true, "fd_fdstat_get": true, "fd_fdstat_set_flags": true,
	"fd_prestat_get": true, "fd_prestat_dir_name": true, "path_open": true, "path_filestat_get": true,
}

var hostFuncs = map[string]bool{abi.HostLog: true, abi.HostTablePut: true, abi.HostTableDelete: true}

// meterCosts is the host's fuel cost model (see "Budgets" in the package
// documentation): a byte of bulk memory work costs one unit, as memset and
// memcpy move about as many bytes per µs as simple code runs instructions;
// and each function entry and loop pass costs Region more, the price of the
// check and the branch, so empty loops burn fuel as fast as real code.
var meterCosts = fuel.Costs{BytesPerFuel: 1, Region: 8, Call: 128}

type signature struct {
	name            string
	params, results []api.ValueType
	required        bool
}

var (
	i32        = api.ValueTypeI32
	exportSigs = []signature{ // in the order refusals should name them
		{abi.ExportABIVersion, nil, []api.ValueType{i32}, true},
		{abi.ExportBatch, []api.ValueType{i32}, []api.ValueType{i32}, true},
		{abi.ExportWindow, []api.ValueType{i32}, []api.ValueType{i32}, true},
		{abi.ExportMsgBuf, []api.ValueType{i32}, []api.ValueType{i32}, true},
		{abi.ExportInit, []api.ValueType{i32, i32}, []api.ValueType{i32}, true},
		{abi.ExportProcess, []api.ValueType{i32}, []api.ValueType{i32}, true},
		{abi.ExportControl, []api.ValueType{i32, i32}, []api.ValueType{i32}, false},
		{abi.ExportStateSave, nil, []api.ValueType{i32}, false},
		{abi.ExportStateLoad, []api.ValueType{i32, i32}, []api.ValueType{i32}, false},
		{abi.ExportInitialize, nil, nil, false},
		{abi.ExportTable, []api.ValueType{i32, i32}, []api.ValueType{i32}, false}, // required with tables
	}
)

// Info describes a module: what Inspect reports and what Load records.
type Info struct {
	Size    int
	SHA256  string   // hex
	Imports []string // "module.name"
	Exports []string
	// ABIVersion is what mw_abi_version returned on a probe instance; 0 if the
	// module never got that far.
	ABIVersion uint32
	// MemoryMin and MemoryMax are in 64 KiB pages. MemoryMax is what the
	// instance gets: the declared maximum, or the cap when none is declared
	// (MaxDeclared false).
	MemoryMin, MemoryMax uint32
	MaxDeclared          bool
	WASI                 bool // imports wasi_snapshot_preview1 (a Go guest)
	Control, State       bool // exports mw_control; exports both state hooks
	Metered              bool // rewritten for fuel metering (not PluginConfig.Unmetered)
	// Tables are the tables the module declares (ABI.md §11).
	Tables     []table.Decl
	Admissible bool
	Refusal    *AdmissionError // why not, when !Admissible
}

// Module is an admitted, compiled plugin. Instantiate it once per worker. It is
// safe for concurrent use.
type Module struct {
	e        *Engine
	name     string
	cfg      PluginConfig
	info     Info
	compiled wazero.CompiledModule
	memPages uint32 // reservation per instance, in pages
	live     atomic.Int32
	burstSet bool // PluginConfig.MaxBurst was given, not defaulted
	redirect [1024]uint64
	tables   []*table.Table // mapped into every instance, in declaration order
	claims   []*table.Claim // until admission ends
}

// Name returns the name the module was loaded under.
func (m *Module) Name() string { return m.name }

// Info returns what admission found.
func (m *Module) Info() Info { return m.info }

// Load admits and compiles a plugin. name labels it in errors, logs and
// stats. cfg may be nil for defaults.
//
// A refused module returns an error that is an *AdmissionError naming the
// module, the code and the reason.
func (e *Engine) Load(ctx context.Context, name string, wasm []byte, cfg *PluginConfig) (*Module, error) {
	m, err := e.load(ctx, name, wasm, cfg)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// load is Load, but returns the module (with its Info) on refusal as well.
func (e *Engine) load(ctx context.Context, name string, wasm []byte, cfg *PluginConfig) (*Module, error) {
	if e.isClosed() {
		return nil, ErrClosed
	}
	m := &Module{e: e, name: name}
	if cfg != nil {
		m.cfg = *cfg
	}
	m.burstSet = m.cfg.MaxBurst > 0
	if err := m.cfg.normalize(e.cfg.MaxMemoryPages); err != nil {
		code := AdmitConfig
		if errors.Is(err, errMemoryCap) {
			code = AdmitMemory
		}
		m.info.Refusal = &AdmissionError{Module: name, Code: code, Reason: "plugin config", Err: err}
		return m, m.info.Refusal
	}
	for _, p := range m.cfg.Redirect {
		m.redirect[p/64] |= 1 << (p % 64)
	}
	if err := m.admit(ctx, wasm); err != nil {
		for _, c := range m.claims {
			c.Abort()
		}
		m.claims, m.tables = nil, nil
		m.info.Refusal = err
		return m, err
	}
	for i, c := range m.claims {
		m.tables[i] = c.Commit()
	}
	m.claims = nil
	m.info.Admissible = true
	return m, nil
}

// Close frees the compiled code. Instances already made keep working until closed.
func (m *Module) Close(ctx context.Context) error {
	if m.compiled == nil {
		return nil
	}
	return m.compiled.Close(ctx)
}

func (m *Module) refuse(code AdmissionCode, err error, format string, args ...any) *AdmissionError {
	return &AdmissionError{Module: m.name, Code: code, Reason: fmt.Sprintf(format, args...), Err: err}
}

func (m *Module) admit(ctx context.Context, wasm []byte) *AdmissionError {
	sum := sha256.Sum256(wasm)
	m.info.Size, m.info.SHA256 = len(wasm), hex.EncodeToString(sum[:])
	if len(wasm) > m.e.cfg.MaxModuleBytes {
		return m.refuse(AdmitTooLarge, nil, "%d bytes, over the limit of %d", len(wasm), m.e.cfg.MaxModuleBytes)
	}
	parsed, err := wasmbin.Parse(wasm)
	if err != nil {
		return m.refuse(AdmitMalformed, err, "not a valid wasm module")
	}
	if rerr := m.checkImports(parsed); rerr != nil {
		return rerr
	}
	if m.info.WASI && !m.burstSet {
		m.cfg.MaxBurst = DefaultWASIMaxBurst
	}
	if rerr := m.checkMemory(parsed); rerr != nil {
		return rerr
	}
	for _, x := range parsed.Exports {
		m.info.Exports = append(m.info.Exports, x.Name)
	}
	for _, sig := range exportSigs {
		name := sig.name
		i := slices.IndexFunc(parsed.Exports, func(x wasmbin.Export) bool { return x.Name == name })
		if i < 0 {
			if sig.required {
				return m.refuse(AdmitExport, nil, "required export %s is missing", name)
			}
			continue
		}
		if k := parsed.Exports[i].Kind; k != wasmbin.KindFunc {
			return m.refuse(AdmitExport, nil, "export %s is a %s, not a function", name, wasmbin.KindName(k))
		}
	}
	if i := slices.IndexFunc(parsed.Exports, func(x wasmbin.Export) bool { return x.Name == abi.ExportMemory }); i < 0 || parsed.Exports[i].Kind != wasmbin.KindMemory {
		return m.refuse(AdmitExport, nil, "the linear memory is not exported as %q", abi.ExportMemory)
	}
	if rerr := m.declareTables(parsed); rerr != nil {
		return rerr
	}

	if !m.cfg.Unmetered {
		metered, err := m.e.instrument(wasm, sum, fuel.Config{InitialFuel: m.cfg.ColdFuel, Stack: m.cfg.Stack, Costs: meterCosts})
		if err != nil {
			return m.refuse(AdmitFuel, err, "fuel metering cannot instrument the module")
		}
		wasm = metered
		m.info.Metered = true
	}
	compiled, err := m.e.rt.CompileModule(ctx, wasm)
	if err != nil {
		return m.refuse(AdmitCompile, err, "wazero refused the module")
	}
	m.compiled = compiled
	fns := compiled.ExportedFunctions()
	for _, sig := range exportSigs {
		name := sig.name
		d, ok := fns[name]
		if !ok {
			continue
		}
		if !slices.Equal(d.ParamTypes(), sig.params) || !slices.Equal(d.ResultTypes(), sig.results) {
			compiled.Close(ctx)
			return m.refuse(AdmitSignature, nil, "export %s has type %s, want %s", name,
				sigString(d.ParamTypes(), d.ResultTypes()), sigString(sig.params, sig.results))
		}
	}
	_, m.info.Control = fns[abi.ExportControl]
	_, save := fns[abi.ExportStateSave]
	_, load := fns[abi.ExportStateLoad]
	m.info.State = save && load

	// The ABI version and the layout are only known by running the guest: a
	// probe instance runs start and _initialize, answers mw_abi_version, hands
	// out its areas and runs mw_init with the plugin's config.
	probe, err := m.instantiate(ctx)
	if err != nil {
		compiled.Close(ctx)
		return m.refuse(AdmitInstantiate, err, "probe instance failed")
	}
	defer probe.Close(ctx)
	v, err := probe.call0(abi.ExportABIVersion)
	if err != nil {
		compiled.Close(ctx)
		return m.refuse(AdmitInstantiate, err, "%s failed", abi.ExportABIVersion)
	}
	m.info.ABIVersion = uint32(v)
	if uint32(v) != abi.Version {
		compiled.Close(ctx)
		return m.refuse(AdmitABIVersion, nil, "%s returned %d, this host speaks ABI %d", abi.ExportABIVersion, uint32(v), abi.Version)
	}
	if err := probe.setup(); err != nil {
		compiled.Close(ctx)
		return m.refuse(AdmitInstantiate, err, "probe instance failed")
	}
	return nil
}

func (m *Module) checkImports(parsed *wasmbin.Module) *AdmissionError {
	for _, im := range parsed.Imports {
		m.info.Imports = append(m.info.Imports, im.Module+"."+im.Name)
	}
	for _, im := range parsed.Imports {
		if im.Kind != wasmbin.KindFunc {
			return m.refuse(AdmitImport, nil, "imports %s %s.%s: only functions may be imported", wasmbin.KindName(im.Kind), im.Module, im.Name)
		}
		switch im.Module {
		case abi.HostModule:
			if !hostFuncs[im.Name] {
				return m.refuse(AdmitImport, nil, "imports %s.%s: the host module has no such function", im.Module, im.Name)
			}
		case abi.WASIModule:
			if !wasiAllowed[im.Name] {
				return m.refuse(AdmitImport, nil, "imports %s.%s: outside the WASI subset plugins may use (no files, sockets or environment)", im.Module, im.Name)
			}
			m.info.WASI = true
		default:
			return m.refuse(AdmitImport, nil, "imports %s.%s: only %s and %s may be imported", im.Module, im.Name, abi.HostModule, abi.WASIModule)
		}
	}
	return nil
}

func (m *Module) checkMemory(parsed *wasmbin.Module) *AdmissionError {
	if len(parsed.Memories) != 1 {
		return m.refuse(AdmitMemory, nil, "defines %d memories, want exactly one", len(parsed.Memories))
	}
	l := parsed.Memories[0]
	capPages := uint64(m.cfg.MaxMemoryPages)
	switch {
	case l.Mem64:
		return m.refuse(AdmitMemory, nil, "64-bit memory is not supported")
	case l.Shared:
		return m.refuse(AdmitMemory, nil, "shared memory is not supported")
	case l.HasMax && l.Max > capPages:
		return m.refuse(AdmitMemory, nil, "declares a memory maximum of %d pages, over the plugin's cap of %d", l.Max, capPages)
	case l.Min > capPages:
		return m.refuse(AdmitMemory, nil, "needs %d pages at start, over the plugin's cap of %d", l.Min, capPages)
	case l.HasMax && l.Min > l.Max:
		return m.refuse(AdmitMemory, nil, "memory minimum %d exceeds its maximum %d", l.Min, l.Max)
	}
	m.info.MemoryMin, m.info.MaxDeclared = uint32(l.Min), l.HasMax
	m.memPages = uint32(capPages)
	if l.HasMax {
		m.memPages = uint32(l.Max)
	}
	m.info.MemoryMax = m.memPages
	if m.memPages == 0 {
		return m.refuse(AdmitMemory, nil, "memory maximum is 0 pages: no room for a batch area")
	}
	return nil
}

func sigString(params, results []api.ValueType) string {
	s := "("
	for i, p := range params {
		if i > 0 {
			s += ","
		}
		s += api.ValueTypeName(p)
	}
	s += ")->("
	for i, r := range results {
		if i > 0 {
			s += ","
		}
		s += api.ValueTypeName(r)
	}
	return s + ")"
}

// Inspect reports what the engine sees in a module and whether it would admit
// it under cfg (nil: defaults). A refusal is not an error here: it is in
// Info.Refusal. The error is for the engine itself failing.
func (e *Engine) Inspect(ctx context.Context, wasm []byte, cfg *PluginConfig) (Info, error) {
	m, err := e.load(ctx, "inspect", wasm, cfg)
	if err != nil {
		var ae *AdmissionError
		if !errors.As(err, &ae) {
			return Info{}, err
		}
		return m.info, nil
	}
	defer m.Close(ctx)
	return m.info, nil
}

// Inspect is Engine.Inspect on a throwaway engine with default settings.
func Inspect(ctx context.Context, wasm []byte, cfg *PluginConfig) (Info, error) {
	e, err := NewEngine(ctx, nil)
	if err != nil {
		return Info{}, err
	}
	defer e.Close(ctx)
	return e.Inspect(ctx, wasm, cfg)
}
