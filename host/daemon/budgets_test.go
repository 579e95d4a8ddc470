package daemon

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host"
)

// TestColdFuelReachesThePlugin: cold_fuel, for the plugin or its tenant,
// is the budget of the calls off the packet path. Ten units do not pay for
// a plugin's set-up calls, so admission refuses it naming fuel; the
// default does.
func TestColdFuelReachesThePlugin(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	plugin := buildPlugin(t, dir, "tx", int(abi.TX), 0)
	for _, tc := range []struct {
		name   string
		tenant int64
		plugin int64
		ok     bool
	}{
		{"defaults", 0, 0, true},
		{"plugin", 0, 10, false},
		{"tenant", 10, 0, false},
		{"plugin over tenant", 10, 1 << 28, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := oneInterface(sock, plugin)
			cfg.Tenants[0].ColdFuel = tc.tenant
			cfg.Tenants[0].Interfaces[0].Plugins[0].ColdFuel = tc.plugin
			opts := Options{Logger: quietLogger()}
			d, err := New(context.Background(), cfg, opts)
			if err == nil {
				d.Close()
			}
			if tc.ok != (err == nil) {
				t.Fatalf("New: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, host.ErrFuelExhausted) {
				t.Errorf("error %v does not wrap host.ErrFuelExhausted", err)
			}
		})
	}
}
