package serve_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/daemon/serve"
)

// Run what `memif-wasm run` runs, from a program: one master interface and
// an admin socket, until the context ends.
func ExampleRun() {
	dir, _ := os.MkdirTemp("", "serve-example")
	defer os.RemoveAll(dir)
	cfg := &config.Config{
		Admin: config.Admin{Socket: filepath.Join(dir, "admin.sock")},
		Tenants: []config.Tenant{{Name: "t", Interfaces: []config.Interface{{
			Name: "memif0", Socket: filepath.Join(dir, "memif.sock"), Role: "master", Egress: "memif0",
		}}}},
	}
	if err := cfg.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := serve.Run(ctx, serve.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	fmt.Println("stopped:", err)
	// Output: stopped: <nil>
}
