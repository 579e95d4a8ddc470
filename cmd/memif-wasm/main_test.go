package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
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
	if code != exitUsage {
		t.Fatalf("exit code %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr, "Usage:") {
		t.Fatalf("stderr lacks usage:\n%s", stderr)
	}
}

func TestDispatchUnknownCommand(t *testing.T) {
	code, _, stderr := runArgs(t, "frobnicate")
	if code != exitUsage {
		t.Fatalf("exit code %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Fatalf("stderr does not name the command:\n%s", stderr)
	}
}

func TestDispatchHelpListsEveryCommand(t *testing.T) {
	code, stdout, _ := runArgs(t, "--help")
	if code != exitOK {
		t.Fatalf("exit code %d, want 0", code)
	}
	for name, c := range commands {
		if !strings.Contains(stdout, name) || !strings.Contains(stdout, c.summary) {
			t.Errorf("help lacks %q (%q):\n%s", name, c.summary, stdout)
		}
	}
}

// Every registered command answers --help on stdout with usage and examples, and exits 0.
func TestEveryCommandHelp(t *testing.T) {
	for name := range commands {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runArgs(t, name, "--help")
			if code != exitOK {
				t.Fatalf("exit code %d, want 0; stderr:\n%s", code, stderr)
			}
			for _, want := range []string{"Usage:", "memif-wasm " + name, "Examples:"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("help lacks %q:\n%s", want, stdout)
				}
			}
			code2, stdout2, _ := runArgs(t, "help", name)
			if code2 != exitOK || stdout2 != stdout {
				t.Errorf("'help %s' differs from '%s --help' (exit %d)", name, name, code2)
			}
		})
	}
}

func TestFlagSetUsageError(t *testing.T) {
	fs := newFlagSet("x", "memif-wasm x --n N", "Does x.", "memif-wasm x --n 1")
	fs.Int("n", 0, "a number")
	var out, errb bytes.Buffer
	code, done := fs.parse([]string{"--n", "abc"}, &out, &errb)
	if !done || code != exitUsage {
		t.Fatalf("parse = (%d, %v), want (%d, true)", code, done, exitUsage)
	}
	if !strings.Contains(errb.String(), "--n") || !strings.Contains(errb.String(), "abc") {
		t.Fatalf("error does not name the flag and value:\n%s", errb.String())
	}
	if out.Len() != 0 {
		t.Fatalf("stdout not empty: %q", out.String())
	}
}

func TestRegisterRejectsDuplicates(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("duplicate register did not panic")
		}
	}()
	c := command{name: "dup-test", summary: "x", run: func(context.Context, []string, io.Writer, io.Writer) int { return 0 }}
	register(c)
	defer delete(commands, "dup-test")
	register(c)
}
