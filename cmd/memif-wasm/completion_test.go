package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
)

// The bash script completes commands, a command's flags (read from its help)
// and ctl's commands, in a real bash.
func TestCompletionBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed: cannot run the completion script")
	}
	code, script, errs := runArgs(t, "completion", "bash")
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	path := filepath.Join(t.TempDir(), "c.bash")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) string {
		t.Helper()
		src := `source ` + path + `; COMP_WORDS=(` + strings.Join(words, " ") + `); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _memif_wasm; echo "${COMPREPLY[*]}"`
		out, err := exec.Command("bash", "-c", src).CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := complete("memif-wasm", "ru"); got != "run" {
		t.Errorf("command: %q", got)
	}
	if got := complete("memif-wasm", "run", "--check"); got != "--check-config" {
		t.Errorf("run flag: %q", got)
	}
	if got := complete("memif-wasm", "ctl", "--admin-t"); got != "--admin-token-file" {
		t.Errorf("ctl flag: %q", got)
	}
	if got := complete("memif-wasm", "ctl", "rel"); got != "reload reload-config" {
		t.Errorf("ctl command: %q", got)
	}
}

// The zsh script parses in a real zsh.
func TestCompletionZsh(t *testing.T) {
	code, script, _ := runArgs(t, "completion", "zsh")
	if code != cli.ExitOK || !strings.HasPrefix(script, "#compdef memif-wasm") || !strings.Contains(script, "--check-config") {
		t.Fatalf("exit %d:\n%s", code, script)
	}
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("zsh is not installed: the script's syntax is not checked")
	}
	path := filepath.Join(t.TempDir(), "_memif-wasm")
	os.WriteFile(path, []byte(script), 0o644)
	if out, err := exec.Command("zsh", "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
}

func TestCompletionUsage(t *testing.T) {
	if code, _, _ := runArgs(t, "completion", "fish"); code != cli.ExitUsage {
		t.Errorf("fish: exit %d, want 2", code)
	}
}

// Exit codes: 2 for a wrong command line in every command, before anything
// starts; a quick run without --role is one (two slaves would wait forever).
func TestExitCodeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--socket", "/tmp/x.sock"},
		{"run", "--no-such-flag"},
		{"ctl", "frobnicate"},
		{"ctl", "--index", "-3", "load", "a/b", "f.wasm"},
		{"gen"},
		{"inspect"},
		{"bench", "--duration", "0s"},
		{"demo", "extra"},
		{"completion"},
		{"nope"},
		{"gen", "--socket", "/tmp/x.sock", "--log-format", "xml"},
		{"demo", "--log-format", "xml"},
		{"bench", "--log-format", "xml"},
	} {
		if code, _, errs := runArgs(t, args...); code != cli.ExitUsage {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, errs)
		}
	}
	if _, _, errs := runArgs(t, "run", "--socket", "/tmp/x.sock"); !strings.Contains(errs, "--role is required") {
		t.Errorf("quick run without --role: %s", errs)
	}
}
