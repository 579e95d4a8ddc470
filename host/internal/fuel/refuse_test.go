package fuel

import (
	"errors"

	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/host/internal/leb128"
	"github.com/tetratelabs/wazero"
)

// Hand-assembled modules for cases that wat2wasm refuses to write.

func sec(id byte, payload ...byte) []byte {
	return append(append([]byte{id}, leb128.AppendU32(nil, uint32(len(payload)))...), payload...)
}

func module(sections ...[]byte) []byte {
	m := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range sections {
		m = append(m, s...)
	}
	return m
}

// withBody is a module of one function of type () -> () whose body (after a
// no-locals vector) is code, plus extra sections placed by rank.
func withBody(code ...byte) []byte {
	body := append([]byte{0}, code...)
	return module(
		sec(secType, 1, 0x60, 0, 0),
		sec(secFunction, 1, 0),
		sec(secCode, append([]byte{1}, append(leb128.AppendU32(nil, uint32(len(body))), body...)...)...),
	)
}

// withLocals is withBody with one group of n locals of type i32.
func withLocals(groups byte, n uint32) []byte {
	body := append(append([]byte{groups}, leb128.AppendU32(nil, n)...), valI32, 0x0B)
	return module(
		sec(secType, 1, 0x60, 0, 0),
		sec(secFunction, 1, 0),
		sec(secCode, append([]byte{1}, append(leb128.AppendU32(nil, uint32(len(body))), body...)...)...),
	)
}

// oneGlobal is a module with one defined i32 global and a function body.
func oneGlobal(code ...byte) []byte {
	body := append([]byte{0}, code...)
	return module(
		sec(secType, 1, 0x60, 0, 0),
		sec(secFunction, 1, 0),
		sec(secGlobal, 1, valI32, 1, 0x41, 0, 0x0B),
		sec(secCode, append([]byte{1}, append(leb128.AppendU32(nil, uint32(len(body))), body...)...)...),
	)
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name    string
		wasm    []byte
		cfg     Config
		want    error
		section string
		fn      int
		offset  int    // -1: not checked
		reason  string // substring of the message
	}{
		{"empty", nil, Config{}, ErrMalformed, "", -1, 0, "magic"},
		{"bad magic", []byte("\x00wasm\x01\x00\x00"), Config{}, ErrMalformed, "", -1, 0, "magic"},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), Config{}, ErrUnsupported, "", -1, 4, "version"},
		{"truncated section size", module([]byte{secType, 0x80}), Config{}, ErrMalformed, "type", -1, 9, "section size"},
		{"section overruns", module([]byte{secType, 5, 0}), Config{}, ErrMalformed, "type", -1, 8, "overruns"},
		{"unknown section", module(sec(14, 0)), Config{}, ErrUnsupported, "id 14", -1, 8, "unknown section id 14"},
		{"tag section", module(sec(secTag, 0)), Config{}, ErrUnsupported, "tag", -1, 8, "exception handling"},
		{"out of order", module(sec(secFunction, 0), sec(secType, 0)), Config{}, ErrMalformed, "type", -1, 11, "out of order"},
		{"repeated", module(sec(secType, 0), sec(secType, 0)), Config{}, ErrMalformed, "type", -1, 11, "repeated"},
		{"custom name overruns", module(sec(secCustom, 5, 'a')), Config{}, ErrMalformed, "custom", -1, 10, "name"},
		{"GC type", module(sec(secType, 1, 0x5F, 0)), Config{}, ErrUnsupported, "type", -1, 11, "form 0x5f"},
		{"typed reference param", module(sec(secType, 1, 0x60, 1, 0x63, 0)), Config{}, ErrUnsupported, "type", -1, 13, "value type 0x63"},
		{"huge type count", module(sec(secType, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F)), Config{}, ErrMalformed, "type", -1, 10, "exceeds"},
		{"trailing bytes in section", module(sec(secType, 0, 0)), Config{}, ErrMalformed, "type", -1, 11, "unread"},
		{"memory64 import", module(sec(secImport, 1, 1, 'm', 1, 'm', 2, 0x04, 1)), Config{}, ErrUnsupported, "import", -1, 16, "memory64"},
		{"tag import", module(sec(secImport, 1, 1, 'm', 1, 't', 4, 0, 0)), Config{}, ErrUnsupported, "import", -1, 15, "tag import"},
		{"function type out of range", module(sec(secType, 0), sec(secFunction, 1, 0)), Config{}, ErrIndex, "function", -1, 14, "type 0 of 0"},
		{"bodies and functions disagree", module(sec(secType, 1, 0x60, 0, 0), sec(secFunction, 1, 0), sec(secCode, 0)), Config{}, ErrMalformed, "code", -1, 20, "0 function bodies for 1"},
		{"export clash", module(sec(secExport, append(append([]byte{1, byte(len(ExportName))}, ExportName...), 0, 0)...)), Config{}, ErrExportClash, "export", -1, 11, ExportName},
		{"stack export clash", module(sec(secExport, append(append([]byte{1, byte(len(StackExportName))}, StackExportName...), 0, 0)...)), Config{}, ErrExportClash, "export", -1, 11, StackExportName},
		{"export of the fuel global's index", module(sec(secExport, 1, 1, 'g', 3, 0)), Config{}, ErrIndex, "export", -1, 13, "global 0 of 0"},
		{"initialiser reads a later global", module(sec(secGlobal, 1, valI32, 0, 0x23, 0, 0x0B)), Config{}, ErrIndex, "global", -1, 13, "global 0 of 0"},
		{"initialiser with a non-constant opcode", module(sec(secGlobal, 1, valI32, 0, 0x20, 0, 0x0B)), Config{}, ErrUnsupported, "global", -1, 13, "constant expression"},
		{"global.set of the fuel global", oneGlobal(0x42, 0x7F, 0x24, 1, 0x0B), Config{}, ErrIndex, "code", 0, 33, "global 1 of 1"},
		{"global.get of the fuel global", withBody(0x23, 0, 0x1A, 0x0B), Config{}, ErrIndex, "code", 0, 23, "global 0 of 0"},
		{"local out of range", withBody(0x20, 0, 0x1A, 0x0B), Config{}, ErrIndex, "code", 0, 23, "local 0 of 0"},
		{"unknown opcode", withBody(0xFF, 0x0B), Config{}, ErrUnsupported, "code", 0, 23, "opcode 0xff"},
		{"exception handling try", withBody(0x06, 0x40, 0x0B, 0x0B), Config{}, ErrUnsupported, "code", 0, 23, "opcode 0x6"},
		{"call_ref", withBody(0x14, 0, 0x0B), Config{}, ErrUnsupported, "code", 0, 23, "opcode 0x14"},
		{"unknown misc opcode", withBody(0xFC, 18, 0x0B), Config{}, ErrUnsupported, "code", 0, 23, "opcode 0xfc 18"},
		{"SIMD numbering gap", withBody(0xFD, 0x9A, 0x01, 0x0B), Config{}, ErrUnsupported, "code", 0, 23, "opcode 0xfd 154"},
		{"relaxed SIMD", withBody(0xFD, 0x80, 0x02, 0x0B), Config{}, ErrUnsupported, "code", 0, 23, "opcode 0xfd 256"},
		{"atomic wait", withBody(0x41, 0, 0x41, 0, 0x42, 0, 0xFE, 0x01, 2, 0, 0x1A, 0x0B), Config{}, ErrUnsupported, "code", 0, 29, "memory.atomic.wait"},
		{"unknown atomic", withBody(0xFE, 0x4F, 0x0B), Config{}, ErrUnsupported, "code", 0, 23, "opcode 0xfe 79"},
		{"multi-memory memarg", withBody(0x41, 0, 0x28, 0x40, 0, 0, 0x1A, 0x0B), Config{}, ErrUnsupported, "code", 0, 26, "multiple memories"},
		{"typed block type", withBody(0x02, 0x63, 0x70, 0x0B, 0x0B), Config{}, ErrUnsupported, "code", 0, 24, "block type"},
		{"block type index out of range", withBody(0x02, 0x05, 0x0B, 0x0B), Config{}, ErrIndex, "code", 0, 24, "block type 5 of 1"},
		{"else outside if", withBody(0x05, 0x0B), Config{}, ErrMalformed, "code", 0, 23, "else outside if"},
		{"body ends inside a block", withBody(0x02, 0x40, 0x0B), Config{}, ErrMalformed, "code", 0, 26, "ends inside a block"},
		{"bytes after the final end", withBody(0x0B, 0x01), Config{}, ErrMalformed, "code", 0, 24, "after the function's final end"},
		{"truncated immediate", withBody(0x41, 0x80), Config{}, ErrMalformed, "code", 0, 23, "opcode 0x41"},
		{"overlong LEB", withBody(0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x1A, 0x0B), Config{}, ErrMalformed, "code", 0, 23, "too long"},
		{"br to a label that is not open", withBody(0x0C, 0x01, 0x0B), Config{}, ErrMalformed, "code", 0, 23, "branch to label 1 with 1 blocks open"},
		{"br_table to a label that is not open", withBody(0x41, 0, 0x0E, 0x01, 0x00, 0x02, 0x0B), Config{}, ErrMalformed, "code", 0, 25, "branch to label 2"},
		{"br_table count overruns", withBody(0x41, 0, 0x0E, 0xFF, 0xFF, 0x03, 0, 0x0B), Config{}, ErrMalformed, "code", 0, 26, "vector"},
		{"data count exceeds section", module(sec(secData, 0xE0, 0xEC, 0xEC, 0x30)), Config{}, ErrMalformed, "data", -1, 10, "exceeds"},
		{"data segment size exceeds section", module(sec(secData, 1, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F)), Config{}, ErrMalformed, "data", -1, 17, "overruns"},
		{"data offset reads the fuel global", module(sec(secData, 1, 0, 0x23, 0, 0x0B, 0)), Config{}, ErrIndex, "data", -1, 12, "global 0 of 0"},
		{"element count exceeds section", module(sec(secElement, 1, 1, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F)), Config{}, ErrMalformed, "element", -1, 13, "exceeds"},
		{"element flags", module(sec(secElement, 1, 8)), Config{}, ErrMalformed, "element", -1, 11, "flags 8"},
		{"table count exceeds section", module(sec(secTable, 0xFF, 0xFF, 0x03)), Config{}, ErrMalformed, "table", -1, 10, "exceeds"},
		{"memory64", module(sec(secMemory, 1, 0x04, 1)), Config{}, ErrUnsupported, "memory", -1, 11, "memory64"},
		{"name map exceeds subsection", module(sec(secCustom, 4, 'n', 'a', 'm', 'e', 1, 3, 0xFF, 0xFF, 0x03)), Config{}, ErrMalformed, "name", -1, 17, "exceeds"},
		{"local name map exceeds subsection", module(sec(secCustom, 4, 'n', 'a', 'm', 'e', 2, 4, 1, 0, 0xFF, 0x01)), Config{}, ErrMalformed, "name", -1, 19, "exceeds"},
		{"too many locals", withLocals(1, 50001), Config{}, ErrUnsupported, "code", 0, 22, "more than 50000"},
		{"negative instruction cost", withBody(0x0B), Config{Costs: Costs{Instruction: -1}}, ErrConfig, "", -1, 0, "instruction cost"},
		{"bytes per fuel not a power of two", withBody(0x0B), Config{Costs: Costs{BytesPerFuel: 3}}, ErrConfig, "", -1, 0, "power of two"},
		{"negative initial fuel", withBody(0x0B), Config{InitialFuel: -5}, ErrConfig, "", -1, 0, "initial fuel"},
		{"negative region cost", withBody(0x0B), Config{Costs: Costs{Region: -1}}, ErrConfig, "", -1, 0, "region cost"},
		{"call cost too large", withBody(0x0B), Config{Costs: Costs{Call: 1 << 21}}, ErrConfig, "", -1, 0, "call cost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Instrument(tt.wasm, tt.cfg)
			if err == nil {
				t.Fatalf("accepted (%d bytes out), want %v", len(out), tt.want)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err %T is not an *Error", err)
			}
			if e.Section != tt.section || e.Func != tt.fn || (tt.offset >= 0 && e.Offset != tt.offset) {
				t.Errorf("at section %q func %d offset %d, want %q %d %d (%v)", e.Section, e.Func, e.Offset, tt.section, tt.fn, tt.offset, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
		})
	}
}

// TestAddsMissingSections: a module without globals or exports gets both,
// in the right place, and one that has them keeps its entries.
func TestAddsMissingSections(t *testing.T) {
	tests := []struct {
		name string
		wasm []byte
		fuel uint32
	}{
		{"empty module", module(), 0},
		{"function only", withBody(0x0B), 0},
		{"one global", oneGlobal(0x0B), 1},
		{"imported global", module(sec(secImport, 1, 1, 'm', 1, 'g', 3, valI32, 0), sec(secData, 0)), 1},
	}
	rt := newRuntime(t)
	// The provider of the imported global.
	cm, err := rt.CompileModule(t.Context(), module(sec(secGlobal, 1, valI32, 0, 0x41, 5, 0x0B), sec(secExport, 1, 1, 'g', 3, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.InstantiateModule(t.Context(), cm, wazero.NewModuleConfig().WithName("m")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, st := instrument(t, tt.wasm, Config{})
			if st.FuelGlobal != tt.fuel {
				t.Errorf("fuel global %d, want %d", st.FuelGlobal, tt.fuel)
			}
			mod := instantiate(t, rt, out)
			if got := int64(fuelOf(t, mod).Get()); got != DefaultInitialFuel {
				t.Errorf("fuel = %d, want %d", got, DefaultInitialFuel)
			}
		})
	}
}
