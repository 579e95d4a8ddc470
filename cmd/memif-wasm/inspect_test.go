package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/host/daemon/admin"
)

func TestInspectAdmitted(t *testing.T) {
	p := watPlugin(t, "1", "2")
	code, stdout, stderr := runArgs(t, "inspect", p)
	if code != cli.ExitOK {
		t.Fatalf("exit %d; stderr:\n%s\nstdout:\n%s", code, stderr, stdout)
	}
	for _, want := range []string{"abi version  1", "min 288 pages (18.0 MiB), max 288 pages", "declared", "mw_process", "admitted     yes"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
}

func TestInspectJSON(t *testing.T) {
	p := watPlugin(t, "1", "2")
	code, stdout, _ := runArgs(t, "inspect", "--json", p)
	var rep admin.InspectReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	wasm, _ := os.ReadFile(p)
	if code != cli.ExitOK || !rep.Admitted || rep.ABIVersion != 1 || rep.Size != len(wasm) || len(rep.SHA256) != 64 ||
		rep.MemoryMax != 288 || !rep.MaxDeclared || rep.WASI || len(rep.Imports) != 0 || len(rep.Exports) != 7 {
		t.Fatalf("exit %d, report %+v", code, rep)
	}
}

// Refusals: exit 1 and the reason, each with its admission code.
func TestInspectRefused(t *testing.T) {
	tests := []struct {
		name string
		args func(t *testing.T) []string
		code string
		want string
	}{
		{"wrong abi version", func(t *testing.T) []string { return []string{watPlugin(t, "2", "2")} }, "abi_version", "2"},
		{"memory over the cap", func(t *testing.T) []string { return []string{"--max-pages", "280", watPlugin(t, "1", "2")} }, "memory", "288"},
		{"not wasm", func(t *testing.T) []string {
			p := filepath.Join(t.TempDir(), "x.wasm")
			os.WriteFile(p, []byte("#!/bin/sh\necho hi\n"), 0o644)
			return []string{p}
		}, "malformed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"inspect", "--json"}, tt.args(t)...)
			code, stdout, stderr := runArgs(t, args...)
			var rep admin.InspectReport
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
				t.Fatalf("not JSON: %v\n%s\n%s", err, stdout, stderr)
			}
			if code != cli.ExitFailure || rep.Admitted || rep.RefusalCode != tt.code || !strings.Contains(rep.Refusal, tt.want) || rep.Refusal == "" {
				t.Fatalf("exit %d, code %q refusal %q; want exit 1, code %q mentioning %q", code, rep.RefusalCode, rep.Refusal, tt.code, tt.want)
			}
			textArgs := append([]string{"inspect"}, args[2:]...)
			if _, text, _ := runArgs(t, textArgs...); !strings.Contains(text, "admitted     no: "+tt.code+": ") {
				t.Fatalf("text report does not say why:\n%s", text)
			}
		})
	}
}

func TestInspectFileErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing file", []string{filepath.Join(dir, "nope.wasm")}, cli.ExitFailure, "nope.wasm: no such file"},
		{"directory", []string{dir}, cli.ExitFailure, "not a regular file"},
		{"no file", nil, cli.ExitUsage, "exactly one FILE.wasm"},
		{"two files", []string{"a", "b"}, cli.ExitUsage, "exactly one FILE.wasm"},
		{"bad max pages", []string{"--max-pages", "0", "a"}, cli.ExitUsage, "--max-pages 0"},
		{"missing plugin config", []string{"--plugin-config", filepath.Join(dir, "cfg"), watPlugin(t, "1", "2")}, cli.ExitFailure, "--plugin-config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runArgs(t, append([]string{"inspect"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d (want %d), stderr lacks %q:\n%s", code, tt.code, tt.want, stderr)
			}
		})
	}
}

// A C plugin built by make plugins. (Go guests take tens of seconds to compile under
// -race on a loaded machine, so the WASI display is tested with admin's TestGroupImports.)
func TestInspectCPlugin(t *testing.T) {
	p := builtPlugin(t, "pass-c.wasm")
	code, stdout, stderr := runArgs(t, "inspect", p)
	if code != cli.ExitOK || !strings.Contains(stdout, "wasi         no") || !strings.Contains(stdout, "imports      none") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
}
