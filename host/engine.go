package host

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/internal/fuel"
	"github.com/memif-wasm/memif-wasm/host/table"
)

// Defaults of EngineConfig and PluginConfig.
const (
	DefaultMaxMemoryPages = 16384    // 1 GiB: the most any plugin may be given
	DefaultPluginPages    = 1024     // 64 MiB per instance unless the plugin's config says otherwise
	DefaultMaxModuleBytes = 64 << 20 // a module file larger than this is refused unread
	DefaultLogRate        = 20       // guest log lines per second per instance
	DefaultLogBurst       = 50       // lines a guest may log at once before the rate applies
)

// EngineConfig configures an Engine. The zero value is the default.
type EngineConfig struct {
	// CacheDir, when set, keeps compiled machine code on disk under this
	// directory, so a restart skips compilation (a Go guest takes 0.3–0.6 s to
	// compile). Empty: compiled code is cached in memory only, for the life of
	// the Engine.
	CacheDir string
	// MaxMemoryPages bounds every plugin's linear memory, in 64 KiB pages.
	// 0: DefaultMaxMemoryPages.
	MaxMemoryPages uint32
	// MaxModuleBytes refuses larger .wasm files before parsing. 0: DefaultMaxModuleBytes.
	MaxModuleBytes int
	// Logger receives guest log lines and WASI stdout/stderr. nil: slog.Default().
	Logger *slog.Logger
	// LogRate is the number of guest log lines per second per instance before
	// lines are dropped and counted. 0: DefaultLogRate.
	LogRate int
	// Clock tells the time for the host's policies: a faulting plugin's
	// restart backoff and quarantine window, and the guest log rate limit.
	// nil: the system clock. Tests pass one they move by hand, so those
	// policies are tested without sleeping. (Bursts are timed with the
	// monotonic clock regardless.)
	Clock Clock
}

// Clock is a source of the current time (see EngineConfig.Clock).
type Clock interface{ Now() time.Time }

// SystemClock is the Clock of the system's time, the default.
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Engine is one wazero runtime (compiler engine) with the host module and the
// WASI subset guests may import. Compile plugins with Load, once; instantiate
// them per worker. It is safe for concurrent use.
type Engine struct {
	cfg    EngineConfig
	rt     wazero.Runtime
	cache  wazero.CompilationCache
	logger *slog.Logger

	mu     sync.Mutex
	closed bool
	// metered caches instrumented modules: a Go guest takes tens of ms to
	// rewrite, and reloads and several tenants load the same bytes.
	metered      map[meterKey][]byte
	meteredBytes int

	tables *table.Store // outlives every module and instance
}

// meterKey identifies an instrumented module: the rewrite is deterministic in
// the input, the rewriter's version and its Config.
type meterKey struct {
	sum     [32]byte
	version int
	cfg     fuel.Config
}

// maxMeteredBytes bounds the cache of instrumented modules (a Go guest is
// 2–4 MB); a miss costs a rewrite, never correctness.
const maxMeteredBytes = 64 << 20

// instrument returns wasm (whose SHA-256 is sum) rewritten for fuel, from the
// cache when it was rewritten before.
func (e *Engine) instrument(wasm []byte, sum [32]byte, cfg fuel.Config) ([]byte, error) {
	k := meterKey{sum, fuel.Version, cfg}
	e.mu.Lock()
	out, ok := e.metered[k]
	e.mu.Unlock()
	if ok {
		return out, nil
	}
	out, err := fuel.Instrument(wasm, cfg)
	if err != nil {
		return nil, err
	}
	if len(out) > maxMeteredBytes {
		return out, nil
	}
	e.mu.Lock()
	if e.metered == nil {
		e.metered = map[meterKey][]byte{}
	}
	for old, b := range e.metered { // evict arbitrary entries until it fits
		if e.meteredBytes+len(out) <= maxMeteredBytes {
			break
		}
		delete(e.metered, old)
		e.meteredBytes -= len(b)
	}
	if _, ok := e.metered[k]; !ok {
		e.metered[k] = out
		e.meteredBytes += len(out)
	}
	e.mu.Unlock()
	return out, nil
}

// NewEngine creates the runtime. Close it to free everything it compiled and
// instantiated.
func NewEngine(ctx context.Context, cfg *EngineConfig) (*Engine, error) {
	e := &Engine{tables: table.NewStore()}
	if cfg != nil {
		e.cfg = *cfg
	}
	if e.cfg.MaxMemoryPages == 0 || e.cfg.MaxMemoryPages > 65536 {
		e.cfg.MaxMemoryPages = DefaultMaxMemoryPages
	}
	if e.cfg.MaxModuleBytes <= 0 {
		e.cfg.MaxModuleBytes = DefaultMaxModuleBytes
	}
	if e.cfg.LogRate <= 0 {
		e.cfg.LogRate = DefaultLogRate
	}
	if e.cfg.Clock == nil {
		e.cfg.Clock = SystemClock
	}
	e.logger = e.cfg.Logger
	if e.logger == nil {
		e.logger = slog.Default()
	}
	var err error
	if e.cfg.CacheDir != "" {
		if e.cache, err = wazero.NewCompilationCacheWithDir(e.cfg.CacheDir); err != nil {
			return nil, fmt.Errorf("host: compilation cache in %s: %w", e.cfg.CacheDir, err)
		}
	} else {
		e.cache = wazero.NewCompilationCache()
	}
	rc := wazero.NewRuntimeConfigCompiler().
		WithCoreFeatures(api.CoreFeaturesV2).
		WithMemoryLimitPages(e.cfg.MaxMemoryPages).
		// Runaway guests are bounded by injected fuel, not by interrupting
		// through the context, which costs every call and every loop
		// (RATIONALE.md, "Why is a runaway guest stopped by fuel ...").
		WithCloseOnContextDone(false).
		WithCompilationCache(e.cache)
	e.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	if err := e.instantiateHostModules(ctx); err != nil {
		e.rt.Close(ctx)
		e.cache.Close(ctx)
		return nil, err
	}
	return e, nil
}

func (e *Engine) instantiateHostModules(ctx context.Context) error {
	_, err := e.rt.NewHostModuleBuilder(abi.HostModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostLog), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, nil).
		WithParameterNames("level", "ptr", "len").
		Export(abi.HostLog).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostTablePut), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}).
		WithParameterNames("index", "key", "value").
		Export(abi.HostTablePut).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostTableDelete), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}).
		WithParameterNames("index", "key").
		Export(abi.HostTableDelete).
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("host: instantiate host module %s: %w", abi.HostModule, err)
	}
	// All of WASI is registered, but admission lets a guest import only the
	// functions in wasiAllowed, and each instance's ModuleConfig gives them no
	// files, no environment and no arguments.
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, e.rt); err != nil {
		return fmt.Errorf("host: instantiate %s: %w", abi.WASIModule, err)
	}
	return nil
}

// Close frees the runtime, every module and instance it created, and the
// in-memory compilation cache. It is idempotent.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	err := e.rt.Close(ctx)
	if cerr := e.cache.Close(ctx); err == nil {
		err = cerr
	}
	if terr := e.tables.Close(); err == nil {
		err = terr
	}
	return err
}

func (e *Engine) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}
