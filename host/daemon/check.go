package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
)

// Check does what New does short of touching the outside world: it
// validates cfg, then reads, compiles and probes every plugin (mw_init with
// its config) as New would, opening no socket and starting no worker. A
// plugin with a source is fetched and verified from its registry, as New
// would (that is part of what is checked). It
// returns every problem it found, joined (errors.Join), each naming its
// tenant, interface, plugin or file; nil means New would get past loading
// the plugins. A config that fails validation is not probed.
func Check(ctx context.Context, cfg *config.Config, opts Options) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if opts.Clock == nil {
		opts.Clock = host.SystemClock
	}
	d := &Daemon{log: opts.Logger, opts: opts}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.counters.loads = map[string]map[string]uint64{}
	// Plugins with a source are fetched and verified as New would (their
	// registry is part of what is checked).
	src, err := newFetcher(cfg.Registry)
	if err != nil {
		return err
	}
	d.src = src
	eng, err := host.NewEngine(ctx, &host.EngineConfig{
		CacheDir:       cfg.Engine.CacheDir,
		MaxMemoryPages: cfg.Engine.MaxMemoryPages,
		Logger:         d.log,
		Clock:          opts.Clock,
	})
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	defer eng.Close(ctx)
	d.engine = eng
	var errs []error
	for _, tc := range cfg.Tenants {
		ht, err := host.NewTenant(hostTenantConfig(tc))
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %q: %w", tc.Name, err))
			continue
		}
		t := &tenant{name: tc.Name, cfg: tc, host: ht}
		for _, ic := range tc.Interfaces {
			for _, pc := range ic.Plugins {
				pl, err := d.compile(ctx, d.prepareLoad(t, ic, pc))
				if err != nil {
					errs = append(errs, err)
					continue
				}
				pl.mod.Close(ctx)
			}
		}
	}
	return errors.Join(errs...)
}
