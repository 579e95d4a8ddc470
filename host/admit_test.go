package host

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
)

func wantRefusal(t *testing.T, err error, code AdmissionCode, inReason string) *AdmissionError {
	t.Helper()
	var ae *AdmissionError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want *AdmissionError", err)
	}
	if ae.Code != code || !strings.Contains(ae.Error(), inReason) || ae.Module != "test" {
		t.Fatalf("refusal = %q (code %s), want code %s mentioning %q", ae.Error(), ae.Code, code, inReason)
	}
	return ae
}

func TestAdmitScript(t *testing.T) {
	e, _ := newEngine(t)
	m := load(t, e, hosttest.Script(t, hosttest.ScriptOpts{}), nil)
	info := m.Info()
	if !info.Admissible || info.ABIVersion != 1 || !info.MaxDeclared || info.MemoryMax != 1024 || info.MemoryMin != 288 ||
		!info.Control || !info.State || info.WASI || len(info.SHA256) != 64 {
		t.Fatalf("info = %+v", info)
	}
}

func TestAdmitRefusals(t *testing.T) {
	e, _ := newEngine(t)
	ctx := context.Background()
	cases := []struct {
		name   string
		wasm   func(t *testing.T) []byte
		cfg    *PluginConfig
		code   AdmissionCode
		reason string
	}{
		{"malformed", func(*testing.T) []byte { return []byte("\x00asm\x01\x00\x00\x00\x05\xff") }, nil, AdmitMalformed, "not a valid wasm module"},
		{"not wasm", func(*testing.T) []byte { return []byte("#!/bin/sh\nrm -rf /\n") }, nil, AdmitMalformed, "magic"},
		{"missing export", func(t *testing.T) []byte { return hosttest.Script(t, hosttest.ScriptOpts{Process: "mw_proc"}) }, nil, AdmitExport, "mw_process is missing"},
		{"wrong abi version", func(t *testing.T) []byte { return hosttest.Script(t, hosttest.ScriptOpts{Version: "2"}) }, nil, AdmitABIVersion, "returned 2"},
		{"forbidden import module", func(t *testing.T) []byte {
			return hosttest.Script(t, hosttest.ScriptOpts{Imports: `(import "env" "system" (func (param i32)))`})
		}, nil, AdmitImport, "env.system"},
		{"forbidden wasi function", func(t *testing.T) []byte {
			return hosttest.Script(t, hosttest.ScriptOpts{Imports: `(import "wasi_snapshot_preview1" "sock_accept" (func (param i32 i32 i32) (result i32)))`})
		}, nil, AdmitImport, "sock_accept"},
		{"unknown host function", func(t *testing.T) []byte {
			return hosttest.Script(t, hosttest.ScriptOpts{Imports: `(import "memif_wasm" "exec" (func))`})
		}, nil, AdmitImport, "memif_wasm.exec"},
		{"imported global", func(t *testing.T) []byte {
			return hosttest.Script(t, hosttest.ScriptOpts{Imports: `(import "memif_wasm" "log" (global i32))`})
		}, nil, AdmitImport, "only functions"},
		{"memory max over cap", func(t *testing.T) []byte { return hosttest.Script(t, hosttest.ScriptOpts{Max: "2048"}) }, nil, AdmitMemory, "over the plugin's cap of 1024"},
		{"memory min over cap", func(t *testing.T) []byte { return hosttest.Script(t, hosttest.ScriptOpts{Max: " "}) }, &PluginConfig{MaxMemoryPages: 280, WindowSize: 4 << 20}, AdmitMemory, "needs 288 pages at start, over the plugin's cap of 280"},
		{"wrong signature", func(t *testing.T) []byte {
			return hosttest.WAT(t, `(module (memory (export "memory") 288 1024)
			  (func (export "mw_abi_version") (result i32) i32.const 1)
			  (func (export "mw_batch") (param i32) (result i32) i32.const 0)
			  (func (export "mw_window") (param i32) (result i32) i32.const 0)
			  (func (export "mw_msgbuf") (param i32) (result i32) i32.const 0)
			  (func (export "mw_init") (param i32 i32) (result i32) i32.const 0)
			  (func (export "mw_process") (param i64) (result i32) i32.const 0))`)
		}, nil, AdmitSignature, "mw_process has type (i64)->(i32), want (i32)->(i32)"},
		{"export is not a function", func(t *testing.T) []byte {
			return hosttest.WAT(t, `(module (memory (export "memory") 288 1024) (global (export "mw_abi_version") i32 (i32.const 1)))`)
		}, nil, AdmitExport, "mw_abi_version is a global"},
		{"trap in start", func(t *testing.T) []byte {
			return hosttest.WAT(t, `(module (memory (export "memory") 288 1024) (func $s unreachable) (start $s)
			  (func (export "mw_abi_version") (result i32) i32.const 1)
			  (func (export "mw_batch") (param i32) (result i32) i32.const 0)
			  (func (export "mw_window") (param i32) (result i32) i32.const 0)
			  (func (export "mw_msgbuf") (param i32) (result i32) i32.const 0)
			  (func (export "mw_init") (param i32 i32) (result i32) i32.const 0)
			  (func (export "mw_process") (param i32) (result i32) i32.const 0))`)
		}, nil, AdmitInstantiate, "probe instance failed"},
		{"no exports", func(*testing.T) []byte {
			// Framing is fine, but the code section's body is garbage: wazero must refuse it.
			return []byte("\x00asm\x01\x00\x00\x00" +
				"\x01\x04\x01\x60\x00\x00" + "\x03\x02\x01\x00" + "\x05\x04\x01\x01\x01\x01" +
				"\x07\x0a\x01\x06memory\x02\x00" + "\x0a\x05\x01\x03\x00\xff\x0b")
		}, nil, AdmitExport, "mw_abi_version is missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := e.Load(ctx, "test", c.wasm(t), c.cfg)
			if m != nil {
				t.Fatal("Load returned a module with an error")
			}
			wantRefusal(t, err, c.code, c.reason)
		})
	}
}

func TestAdmitCompileError(t *testing.T) {
	e, _ := newEngine(t)
	// Every export present, but mw_process's body does not type-check.
	wasm := hosttest.WAT(t, `(module (memory (export "memory") 288 1024)
	  (func (export "mw_abi_version") (result i32) i32.const 1)
	  (func (export "mw_batch") (param i32) (result i32) i32.const 0)
	  (func (export "mw_window") (param i32) (result i32) i32.const 0)
	  (func (export "mw_msgbuf") (param i32) (result i32) i32.const 0)
	  (func (export "mw_init") (param i32 i32) (result i32) i32.const 0)
	  (func (export "mw_process") (param i32) (result i32) i32.const 0))`)
	// Patch the last body's i32.const 0 (0x41 0x00) into f32 garbage (0x43 ...): a type error.
	i := strings.LastIndex(string(wasm), "\x41\x00\x0b")
	bad := append([]byte(nil), wasm...)
	bad[i] = 0x1a // drop with an empty stack
	_, err := e.Load(context.Background(), "test", bad, nil)
	wantRefusal(t, err, AdmitCompile, "wazero refused")
}

func TestAdmitNoMemoryMaxGetsCap(t *testing.T) {
	e, _ := newEngine(t)
	m := load(t, e, hosttest.Script(t, hosttest.ScriptOpts{Max: " "}), &PluginConfig{MaxMemoryPages: 300})
	info := m.Info()
	if info.MaxDeclared || info.MemoryMax != 300 {
		t.Fatalf("info = %+v, want the cap of 300 pages applied", info)
	}
	in, err := m.Instantiate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(context.Background())
	if len(in.mem) != 300*65536 {
		t.Fatalf("reservation of %d bytes, want %d", len(in.mem), 300*65536)
	}
	// memory.grow past the cap fails inside the guest instead of growing.
	if _, ok := in.am.Memory().Grow(13); ok {
		t.Fatal("grew past the cap")
	}
	if _, ok := in.am.Memory().Grow(12); !ok {
		t.Fatal("could not grow up to the cap")
	}
}

func TestInstanceLayoutErrors(t *testing.T) {
	e, _ := newEngine(t)
	cases := []struct {
		name string
		o    hosttest.ScriptOpts
		want string
	}{
		{"misaligned batch", hosttest.ScriptOpts{Batch: "65537"}, "not 64-byte aligned"},
		{"misaligned window", hosttest.ScriptOpts{Window: "1052672"}, "not 65536-byte aligned"},
		{"window over batch", hosttest.ScriptOpts{Window: "0"}, "returned 0"},
		{"window overlaps message buffer", hosttest.ScriptOpts{Window: "131072"}, "overlaps"},
		{"batch outside memory", hosttest.ScriptOpts{Batch: "2147483648"}, "outside"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.Load(context.Background(), "test", hosttest.Script(t, c.o), nil)
			wantRefusal(t, err, AdmitInstantiate, c.want)
		})
	}
}

func TestInitFailures(t *testing.T) {
	e, _ := newEngine(t)
	wasm := hosttest.Script(t, hosttest.ScriptOpts{})
	cases := []struct {
		name    string
		cfg     []byte
		trapped bool
	}{
		{"errno", []byte{0xff}, false},
		{"trap", []byte{0xfe}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.Load(context.Background(), "test", wasm, &PluginConfig{Config: c.cfg})
			wantRefusal(t, err, AdmitInstantiate, "mw_init")
			var ge *GuestError
			if !errors.As(err, &ge) || ge.Op != abi.ExportInit || ge.Trapped() != c.trapped {
				t.Fatalf("err = %v, want a GuestError from mw_init (trapped %v)", err, c.trapped)
			}
			if !c.trapped && !errors.Is(err, abi.ErrInval) {
				t.Fatalf("err = %v, want abi.ErrInval", err)
			}
		})
	}
}

func TestInspect(t *testing.T) {
	ctx := context.Background()
	info, err := Inspect(ctx, hosttest.Script(t, hosttest.ScriptOpts{Version: "7", Imports: `(import "memif_wasm" "log" (func (param i32 i32 i32)))`}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Admissible || info.Refusal == nil || info.Refusal.Code != AdmitABIVersion || info.ABIVersion != 7 ||
		len(info.Imports) != 1 || info.Imports[0] != "memif_wasm.log" || info.MemoryMax != 1024 {
		t.Fatalf("info = %+v", info)
	}
	info, err = Inspect(ctx, []byte("junk"), nil)
	if err != nil || info.Admissible || info.Refusal.Code != AdmitMalformed || info.Size != 4 {
		t.Fatalf("junk: %+v, %v", info, err)
	}
	// A plugin config refused before the module is looked at is a refusal too.
	info, err = Inspect(ctx, []byte("junk"), &PluginConfig{Fuel: -1})
	if err != nil || info.Admissible || info.Refusal == nil || info.Refusal.Code != AdmitConfig {
		t.Fatalf("bad plugin config: %+v, %v", info, err)
	}
}

// TestWASIHasNoFiles: path_open is importable (Go's os package links it),
// but with no preopened directory it can open nothing, and stdin is empty.
func TestWASIHasNoFiles(t *testing.T) {
	e, _ := newEngine(t)
	wasm := hosttest.WAT(t, `(module
	  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
	  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
	  (memory (export "memory") 288 1024)
	  (data (i32.const 16) "etc/passwd")
	  (func (export "mw_abi_version") (result i32) i32.const 1)
	  (func (export "mw_batch") (param i32) (result i32) i32.const 65536)
	  (func (export "mw_msgbuf") (param i32) (result i32) i32.const 131072)
	  (func (export "mw_window") (param i32) (result i32) i32.const 1048576)
	  (func (export "mw_init") (param i32 i32) (result i32)
	    ;; Try every plausible directory fd; any success fails init.
	    (local $fd i32)
	    (loop $l
	      (if (i32.eqz (call $open (local.get $fd) (i32.const 0) (i32.const 16) (i32.const 10) (i32.const 0)
	                          (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 64)))
	        (then (return (i32.const -5))))
	      (local.set $fd (i32.add (local.get $fd) (i32.const 1)))
	      (br_if $l (i32.lt_u (local.get $fd) (i32.const 8))))
	    ;; stdin: one iovec {ptr 128, len 16} at 96; bytes read land at 112.
	    (i32.store (i32.const 96) (i32.const 128))
	    (i32.store (i32.const 100) (i32.const 16))
	    (drop (call $read (i32.const 0) (i32.const 96) (i32.const 1) (i32.const 112)))
	    (if (i32.ne (i32.load (i32.const 112)) (i32.const 0)) (then (return (i32.const -4))))
	    i32.const 0)
	  (func (export "mw_process") (param i32) (result i32) i32.const 0))`)
	m := load(t, e, wasm, nil)
	if !m.Info().WASI {
		t.Fatal("WASI import not recorded")
	}
}

// A plugin that refuses its config says why in its log; the refusal carries
// those words, not only the errno (the C acl, as make plugins builds it).
func TestInitRefusalCarriesGuestReason(t *testing.T) {
	e, _ := newEngine(t)
	wasm, err := os.ReadFile(hosttest.Built(t, "acl-c.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Load(context.Background(), "acl", wasm, &PluginConfig{Config: []byte("not rules")})
	var ge *GuestError
	if !errors.As(err, &ge) || ge.Op != abi.ExportInit || ge.Reason != "acl config: not an MWA1 config" {
		t.Fatalf("err = %v, want mw_init's refusal with the acl's reason", err)
	}
	if !strings.Contains(err.Error(), "invalid argument: acl config: not an MWA1 config") {
		t.Errorf("message %q lacks errno and reason", err.Error())
	}
	// Reasons do not leak into a later refusal that gave none.
	_, err = e.Load(context.Background(), "test", hosttest.Script(t, hosttest.ScriptOpts{}), &PluginConfig{Config: []byte{0xff}})
	if !errors.As(err, &ge) || ge.Reason != "" {
		t.Errorf("silent refusal got reason %q", ge.Reason)
	}
}
