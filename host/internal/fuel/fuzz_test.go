package fuel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
)

// FuzzInstrument checks, for any input, that Instrument does not panic, that
// it refuses with an *Error, and that it never changes validity: when it
// accepts a module, wazero accepts the output exactly when it accepts the
// input. An input wazero rejects that turned valid would be a module that
// reached the fuel global or the scratch local through an index that did not
// exist before.
//
// The seed corpus in testdata/fuzz/FuzzInstrument holds real modules; it is
// regenerated with FUEL_WRITE_CORPUS=1 go test -run TestWriteFuzzCorpus.
func FuzzInstrument(f *testing.F) {
	for _, m := range [][]byte{
		module(),
		withBody(0x0B),
		withBody(0x03, 0x40, 0x0C, 0x00, 0x0B, 0x0B),
		oneGlobal(0x23, 0x00, 0x24, 0x00, 0x0B),
		oneGlobal(0x42, 0x7F, 0x24, 1, 0x0B), // refill attempt
		withBody(0x41, 0, 0x41, 0, 0x41, 0, 0xFC, 0x0B, 0x00, 0x0B),
		withBody(0xFD, 0x0C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1A, 0x0B),
	} {
		f.Add(m)
	}
	ctx := context.Background()
	// The interpreter validates exactly as the compiler does and compiles
	// much faster. Without debug info wazero skips custom sections instead
	// of reading them, which sidesteps its EOF error on an empty custom
	// section at the very end of a module (not a validity rule: the same
	// section is accepted anywhere else).
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().
		WithCoreFeatures(features).WithDebugInfoEnabled(false).WithCustomSections(false))
	defer rt.Close(ctx)
	valid := func(wasm []byte) error {
		cm, err := rt.CompileModule(ctx, wasm)
		if err == nil {
			cm.Close(ctx)
		}
		return err
	}
	// The default model, and the host's (region and call surcharges, a unit per byte).
	configs := []Config{{}, {Costs: Costs{BytesPerFuel: 1, Region: 8, Call: 128}}}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, cfg := range configs {
			out, err := Instrument(in, cfg)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Err == nil {
					t.Fatalf("error %v (%T) is not an *Error with a sentinel", err, err)
				}
				return
			}
			inErr, outErr := valid(in), valid(out)
			if inErr == nil && outErr != nil {
				t.Fatalf("%+v: valid input, invalid output: %v", cfg.Costs, outErr)
			}
			if inErr != nil && outErr == nil {
				t.Fatalf("%+v: invalid input (%v) became valid", cfg.Costs, inErr)
			}
		}
	})
}

// TestWriteFuzzCorpus regenerates the seed corpus from the test modules.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("FUEL_WRITE_CORPUS") == "" {
		t.Skip("set FUEL_WRITE_CORPUS=1 to regenerate testdata/fuzz/FuzzInstrument")
	}
	seeds := map[string][]byte{
		"wat-equivalence": wat(t, equivalenceModule),
		"wat-exhaustion": wat(t, `(module
		  (func (export "spin") (loop $l (br $l)))
		  (func $down (export "down") (call $down))
		  (func (export "grow") (result i32) (memory.grow (i32.const 1000)))
		  (memory 1 2000))`),
		"wat-start": wat(t, `(module (global $i (mut i32) (i32.const 0))
		  (func $start (loop $l (global.set $i (i32.add (global.get $i) (i32.const 1)))
		    (br_if $l (i32.lt_u (global.get $i) (i32.const 1000)))))
		  (start $start))`),
		"c-simd-bulk": clangWasm(t, cSource, "-msimd128", "-mbulk-memory"),
		// Go's dispatch loop, with jumps that pay for their target and
		// with one that makes the br_table pay.
		"wat-dispatch":       wat(t, strings.Replace(dispatchModule, "{{NOP}}", "", 1)),
		"wat-dispatch-mixed": wat(t, strings.Replace(dispatchModule, "{{NOP}}", "nop", 1)),
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzInstrument")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range seeds {
		data := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(b)))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
