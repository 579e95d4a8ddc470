// Command memif-wasm runs memif packet pipelines made of sandboxed WebAssembly plugins.
//
// Each subcommand lives in its own file and adds itself to the command table from an init
// function (see register), so that subcommands can be written and tested independently.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
)

// Exit codes shared by every subcommand.
const (
	exitOK      = 0 // success
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // bad command line: nothing was started
)

// command is one subcommand of memif-wasm.
type command struct {
	name    string // as typed on the command line
	summary string // one line for the command list
	// run executes the subcommand with the arguments that follow its name. ctx is cancelled
	// on SIGINT or SIGTERM; run returns an exit code (exitOK, exitFailure, exitUsage).
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands is filled by register from each subcommand file's init function.
var commands = map[string]command{}

// register adds c to the command table. A duplicate or empty name is a programming error
// caught by the first test run, hence the panic.
func register(c command) {
	if c.name == "" || c.run == nil {
		panic("register: command needs a name and a run function")
	}
	if _, dup := commands[c.name]; dup {
		panic("register: duplicate command " + c.name)
	}
	commands[c.name] = c
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches args[0] to its subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	if name == "--version" {
		name, args = "version", []string{"version"}
	}
	switch name {
	case "-h", "--help", "help":
		if len(args) > 1 && name == "help" {
			// "memif-wasm help gen" is "memif-wasm gen --help".
			if c, ok := commands[args[1]]; ok {
				return c.run(ctx, []string{"--help"}, stdout, stderr)
			}
			fmt.Fprintf(stderr, "memif-wasm: unknown command %q\n", args[1])
			usage(stderr)
			return exitUsage
		}
		usage(stdout)
		return exitOK
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "memif-wasm: unknown command %q\n", name)
		usage(stderr)
		return exitUsage
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

// usage prints the command list.
func usage(w io.Writer) {
	names := make([]string, 0, len(commands))
	width := 0
	for n := range commands {
		names = append(names, n)
		width = max(width, len(n))
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("memif-wasm runs memif packet pipelines of sandboxed WebAssembly plugins.\n\n")
	b.WriteString("Usage:\n  memif-wasm COMMAND [flags]\n\nCommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, n, commands[n].summary)
	}
	b.WriteString("\nRun 'memif-wasm COMMAND --help' for a command's flags and examples.\n")
	io.WriteString(w, b.String())
}

// flagSet is a pflag.FlagSet that knows its subcommand's help text.
type flagSet struct {
	*pflag.FlagSet
	usageLine   string            // e.g. "memif-wasm gen --socket PATH ..."
	description string            // what the command does, one or more paragraphs
	examples    string            // example command lines, one per line
	aliases     map[string]string // deprecated flag name -> its new name
}

// newFlagSet returns a flag set for a subcommand. Errors and --help are reported by parse,
// never printed by pflag itself, so that each command controls its streams.
func newFlagSet(name, usageLine, description, examples string) *flagSet {
	fs := pflag.NewFlagSet("memif-wasm "+name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, usageLine: usageLine, description: description, examples: examples}
}

// help writes the full help text: usage, description, flags and examples.
func (fs *flagSet) help(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage:\n  %s\n\n", fs.usageLine)
	if fs.description != "" {
		b.WriteString(strings.TrimRight(fs.description, "\n"))
		b.WriteString("\n\n")
	}
	if f := fs.FlagUsages(); f != "" {
		b.WriteString("Flags:\n")
		b.WriteString(f)
		b.WriteString("\n")
	}
	if fs.examples != "" {
		b.WriteString("Examples:\n")
		for _, line := range strings.Split(strings.TrimRight(fs.examples, "\n"), "\n") {
			b.WriteString("  " + line + "\n")
		}
	}
	io.WriteString(w, b.String())
}

// parse parses args. When it returns done, the command must return code: --help was asked
// for (help printed to stdout, exitOK) or the command line was wrong (the reason and a hint
// printed to stderr, exitUsage).
func (fs *flagSet) parse(args []string, stdout, stderr io.Writer) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		for old, new := range fs.aliases {
			if fs.Changed(old) {
				fmt.Fprintf(stderr, "%s: --%s is deprecated, use --%s\n", fs.Name(), old, new)
			}
		}
		return exitOK, false
	case errors.Is(err, pflag.ErrHelp):
		fs.help(stdout)
		return exitOK, true
	default:
		return fs.usageError(stderr, "%v", err), true
	}
}

// usageError reports a command-line mistake on stderr and returns exitUsage.
func (fs *flagSet) usageError(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "%s: %s\nUsage: %s\nRun '%s --help' for flags and examples.\n",
		fs.Name(), fmt.Sprintf(format, a...), fs.usageLine, fs.Name())
	return exitUsage
}
