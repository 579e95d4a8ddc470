package dataplane

import (
	"context"
	"log/slog"
	"testing"

	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// memifPair connects a master (the test's peer) and a slave (the side a
// worker serves) on interface id 1, with both configs adjusted by adjust
// (nil: defaults).
func memifPair(t testing.TB, adjust func(*memif.InterfaceConfig)) (master, slave *memif.Interface) {
	t.Helper()
	o := memiftest.Options{Master: memif.InterfaceConfig{ID: 1, Name: "peer"}, Slave: memif.InterfaceConfig{Name: "host"}}
	if adjust != nil {
		adjust(&o.Master)
		adjust(&o.Slave)
	}
	return memiftest.Pair(t, &o)
}

// scriptPipeline is a pipeline of the script guest (hosttest.Script: each
// packet's first byte is its verdict, its second an action) loaded with
// cfg, closed when the test ends.
func scriptPipeline(t testing.TB, cfg *host.PluginConfig) *host.Pipeline {
	t.Helper()
	ctx := context.Background()
	e, err := host.NewEngine(ctx, &host.EngineConfig{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(ctx) })
	m, err := e.Load(ctx, "script", hosttest.Script(t, hosttest.ScriptOpts{}), cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := host.NewPipeline(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(ctx) })
	return p
}
