package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
)

// runArgs runs the CLI with buffers and returns the exit code and both streams.
func runArgs(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestDispatchNoArgs(t *testing.T) {
	code, _, stderr := runArgs(t)
	if code != cli.ExitUsage {
		t.Fatalf("exit code %d, want %d", code, cli.ExitUsage)
	}
	if !strings.Contains(stderr, "Usage:") {
		t.Fatalf("stderr lacks usage:\n%s", stderr)
	}
}

func TestDispatchUnknownCommand(t *testing.T) {
	code, _, stderr := runArgs(t, "frobnicate")
	if code != cli.ExitUsage {
		t.Fatalf("exit code %d, want %d", code, cli.ExitUsage)
	}
	if !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Fatalf("stderr does not name the command:\n%s", stderr)
	}
}

func TestDispatchHelpListsEveryCommand(t *testing.T) {
	code, stdout, _ := runArgs(t, "--help")
	if code != cli.ExitOK {
		t.Fatalf("exit code %d, want 0", code)
	}
	for _, c := range program.Commands() {
		if !strings.Contains(stdout, c.Name) || !strings.Contains(stdout, c.Summary) {
			t.Errorf("help lacks %q (%q):\n%s", c.Name, c.Summary, stdout)
		}
	}
}

// Every registered command answers --help on stdout with usage and examples, and exits 0.
func TestEveryCommandHelp(t *testing.T) {
	for _, c := range program.Commands() {
		name := c.Name
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runArgs(t, name, "--help")
			if code != cli.ExitOK {
				t.Fatalf("exit code %d, want 0; stderr:\n%s", code, stderr)
			}
			for _, want := range []string{"Usage:", "memif-wasm " + name, "Examples:"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("help lacks %q:\n%s", want, stdout)
				}
			}
			code2, stdout2, _ := runArgs(t, "help", name)
			if code2 != cli.ExitOK || stdout2 != stdout {
				t.Errorf("'help %s' differs from '%s --help' (exit %d)", name, name, code2)
			}
		})
	}
}
