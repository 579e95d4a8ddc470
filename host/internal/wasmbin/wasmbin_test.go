package wasmbin

import (
	"errors"
	"testing"

	"github.com/memif-wasm/memif-wasm/host/hosttest"
)

const sampleWAT = `(module
  (import "memif_wasm" "log" (func (param i32 i32 i32)))
  (import "env" "g" (global i32))
  (import "env" "t" (table 1 funcref))
  (memory (export "memory") 2 16)
  (func $f (result i32) i32.const 1)
  (func $s)
  (start $s)
  (export "mw_abi_version" (func $f)))`

func TestParseSample(t *testing.T) {
	m, err := Parse(hosttest.WAT(t, sampleWAT))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Imports) != 3 || m.Imports[0].Module != "memif_wasm" || m.Imports[0].Name != "log" ||
		m.Imports[0].Kind != KindFunc || m.Imports[1].Kind != KindGlobal || m.Imports[2].Kind != KindTable {
		t.Fatalf("imports = %+v", m.Imports)
	}
	if len(m.Memories) != 1 || m.Memories[0] != (Limits{Min: 2, Max: 16, HasMax: true}) {
		t.Fatalf("memories = %+v", m.Memories)
	}
	if len(m.Exports) != 2 || m.Exports[0].Name != "memory" || m.Exports[0].Kind != KindMemory ||
		m.Exports[1].Name != "mw_abi_version" || m.Exports[1].Kind != KindFunc || m.Exports[1].Index != 1 {
		t.Fatalf("exports = %+v", m.Exports)
	}
	if !m.HasStart {
		t.Fatal("start section not seen")
	}
}

func TestParseNoMax(t *testing.T) {
	m, err := Parse(hosttest.WAT(t, `(module (memory 3))`))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Memories) != 1 || m.Memories[0].HasMax || m.Memories[0].Min != 3 {
		t.Fatalf("memories = %+v", m.Memories)
	}
}

func TestParseMalformed(t *testing.T) {
	hdr := "\x00asm\x01\x00\x00\x00"
	cases := []struct{ name, in string }{
		{"empty", ""},
		{"not wasm", "\x7fELF\x02\x01\x01\x00"},
		{"component", "\x00asm\x0d\x00\x01\x00"},
		{"section past end", hdr + "\x02\x10\x00"},
		{"section size overlong", hdr + "\x02\xff\xff\xff\xff\x7f"},
		{"import count lies", hdr + "\x02\x02\x7f\x00"},
		{"import name past section", hdr + "\x02\x03\x01\x09a"},
		{"import bad kind", hdr + "\x02\x06\x01\x01a\x01b\x09"},
		{"import name not utf8", hdr + "\x02\x07\x01\x01\xff\x01b\x00\x00"},
		{"limits bad flags", hdr + "\x05\x03\x01\x08\x01"},
		{"memory min overflows u32", hdr + "\x05\x07\x01\x00\xff\xff\xff\xff\x7f"},
		{"duplicate section", hdr + "\x05\x01\x00\x05\x01\x00"},
		{"trailing bytes", hdr + "\x05\x02\x00\x00"},
		{"truncated id", hdr + "\x05"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Parse([]byte(c.in))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse = %+v, %v; want ErrMalformed", m, err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x02\x0b\x01\x03env\x01g\x03\x7f\x00\x05\x04\x01\x01\x02\x10"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		for _, l := range m.Memories {
			if !l.Mem64 && (l.Min > 1<<32-1 || l.Max > 1<<32-1) {
				t.Fatalf("32-bit limits out of range: %+v", l)
			}
		}
	})
}

func TestParseTablesSection(t *testing.T) {
	hdr := "\x00asm\x01\x00\x00\x00"
	sec := func(name, body string) string {
		return "\x00" + string(rune(1+len(name)+len(body))) + string(rune(len(name))) + name + body
	}
	m, err := Parse([]byte(hdr + sec("other", "zz") + sec(TablesSection, "abc")))
	if err != nil || string(m.Tables) != "abc" {
		t.Fatalf("Parse = %q, %v", m.Tables, err)
	}
	if m, err := Parse([]byte(hdr + sec(TablesSection, ""))); err != nil || m.Tables == nil || len(m.Tables) != 0 {
		t.Fatalf("empty section: %q, %v (want present and empty)", m.Tables, err)
	}
	if m, err := Parse([]byte(hdr)); err != nil || m.Tables != nil {
		t.Fatalf("no section: %q, %v", m.Tables, err)
	}
	if _, err := Parse([]byte(hdr + sec(TablesSection, "a") + sec(TablesSection, "b"))); !errors.Is(err, ErrMalformed) {
		t.Fatalf("two sections: %v", err)
	}
	if _, err := Parse([]byte(hdr + "\x00\x02\x01\xff")); err != nil {
		t.Fatalf("a custom section with a non-UTF-8 name is skipped as before: %v", err)
	}
}
