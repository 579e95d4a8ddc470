package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

func TestFlagSetUsageError(t *testing.T) {
	fs := NewFlagSet("memif-wasm x", "memif-wasm x --n N", "Does x.", "memif-wasm x --n 1")
	fs.Int("n", 0, "a number")
	var out, errb bytes.Buffer
	code, done := fs.ParseArgs([]string{"--n", "abc"}, &out, &errb)
	if !done || code != ExitUsage {
		t.Fatalf("parse = (%d, %v), want (%d, true)", code, done, ExitUsage)
	}
	if !strings.Contains(errb.String(), "--n") || !strings.Contains(errb.String(), "abc") {
		t.Fatalf("error does not name the flag and value:\n%s", errb.String())
	}
	if out.Len() != 0 {
		t.Fatalf("stdout not empty: %q", out.String())
	}
}

func TestAliasIsDeprecated(t *testing.T) {
	fs := NewFlagSet("memif-wasm x", "memif-wasm x", "", "")
	n := fs.Int("count", 0, "a number")
	fs.Alias("n", "count")
	var out, errb bytes.Buffer
	if code, done := fs.ParseArgs([]string{"--n", "3"}, &out, &errb); done || code != ExitOK || *n != 3 {
		t.Fatalf("parse = (%d, %v), count %d", code, done, *n)
	}
	if !strings.Contains(errb.String(), "--n is deprecated, use --count") {
		t.Fatalf("no deprecation notice: %q", errb.String())
	}
	fs.Help(&out)
	if strings.Contains(out.String(), "--n ") {
		t.Fatalf("help lists the deprecated name:\n%s", out.String())
	}
}

func TestRegisterRejectsDuplicates(t *testing.T) {
	var p Program
	c := Command{Name: "dup", Summary: "x", Run: func(context.Context, []string, io.Writer, io.Writer) int { return ExitOK }}
	p.Register(c)
	defer func() {
		if recover() == nil {
			t.Fatal("duplicate Register did not panic")
		}
	}()
	p.Register(c)
}

func TestRunDispatches(t *testing.T) {
	p := Program{Name: "prog", Summary: "prog does things."}
	p.Register(Command{Name: "hello", Summary: "says hello", Run: func(_ context.Context, args []string, stdout, _ io.Writer) int {
		io.WriteString(stdout, "hello "+strings.Join(args, ","))
		return ExitOK
	}})
	var out, errb bytes.Buffer
	if code := p.Run(context.Background(), []string{"hello", "a", "b"}, &out, &errb); code != ExitOK || out.String() != "hello a,b" {
		t.Fatalf("hello: %d %q", code, out.String())
	}
	out.Reset()
	if code := p.Run(context.Background(), []string{"nope"}, &out, &errb); code != ExitUsage || !strings.Contains(errb.String(), `unknown command "nope"`) {
		t.Fatalf("nope: %d %q", code, errb.String())
	}
	if code := p.Run(context.Background(), []string{"--help"}, &out, &errb); code != ExitOK || !strings.Contains(out.String(), "hello  says hello") {
		t.Fatalf("--help: %d %q", code, out.String())
	}
}

func TestParseNoArgs(t *testing.T) {
	fs := NewFlagSet("memif-wasm x", "memif-wasm x [--n N]", "", "")
	fs.Int("n", 0, "a number")
	var out, errb bytes.Buffer
	if code, done := fs.ParseNoArgs([]string{"--n", "1", "extra"}, &out, &errb); !done || code != ExitUsage || !strings.Contains(errb.String(), `unexpected argument "extra"`) {
		t.Fatalf("extra argument: (%d, %v) %q", code, done, errb.String())
	}
	if code, done := fs.ParseNoArgs([]string{"--n", "1"}, &out, &errb); done || code != ExitOK {
		t.Fatalf("flags only: (%d, %v)", code, done)
	}
}
