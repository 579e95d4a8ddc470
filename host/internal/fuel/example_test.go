package fuel_test

import (
	"context"
	"fmt"

	"github.com/memif-wasm/memif-wasm/host/internal/fuel"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// spinWasm is (module (func (export "spin") (loop (br 0))) (func (export
// "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))).
var spinWasm = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x0a, 0x02, 0x60, 0x00, 0x00, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, // types
	0x03, 0x03, 0x02, 0x00, 0x01, // functions
	0x07, 0x0e, 0x02, 0x04, 's', 'p', 'i', 'n', 0x00, 0x00, 0x03, 'a', 'd', 'd', 0x00, 0x01, // exports
	0x0a, 0x11, 0x02, // code
	0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // spin
	0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b, // add
}

// Example instruments a module, runs a call within its budget, reads back the
// fuel it used, and stops a runaway loop.
func Example() {
	wasm, st, err := fuel.InstrumentStats(spinWasm, fuel.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("instrumented %d functions, %d loops\n", st.Functions, st.Loops)

	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	mod, err := rt.Instantiate(ctx, wasm)
	if err != nil {
		fmt.Println(err)
		return
	}
	g := mod.ExportedGlobal(fuel.ExportName).(api.MutableGlobal)

	const budget = 1000
	g.Set(budget)
	sum, err := mod.ExportedFunction("add").Call(ctx, 2, 3)
	fmt.Println("add:", sum[0], err, "fuel used:", budget-int64(g.Get()))

	g.Set(budget)
	_, err = mod.ExportedFunction("spin").Call(ctx)
	fmt.Println("spin failed:", err != nil, "out of fuel:", int64(g.Get()) < 0)
	// Output:
	// instrumented 2 functions, 1 loops
	// add: 5 <nil> fuel used: 3
	// spin failed: true out of fuel: true
}
