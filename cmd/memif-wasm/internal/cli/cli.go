// Package cli is the command-line plumbing of memif-wasm: a program of
// subcommands, each with a pflag flag set that knows its usage line,
// description and examples, and the exit-code convention every subcommand
// follows (ExitOK, ExitFailure, ExitUsage). Errors and --help are written
// where the command says, never by pflag itself.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// Exit codes shared by every subcommand.
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // the command ran and failed
	ExitUsage   = 2 // bad command line: nothing was started
)

// Command is one subcommand.
type Command struct {
	Name    string // as typed on the command line
	Summary string // one line for the command list
	// Run executes the subcommand with the arguments that follow its name.
	// It returns an exit code (ExitOK, ExitFailure, ExitUsage).
	Run func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// Program is a command of subcommands, such as memif-wasm.
type Program struct {
	Name     string // as typed, e.g. "memif-wasm"
	Summary  string // the first line of the command list
	commands map[string]Command
}

// Register adds c. A duplicate or empty name is a programming error caught
// by the first test run, hence the panic.
func (p *Program) Register(c Command) {
	if c.Name == "" || c.Run == nil {
		panic("cli: a command needs a name and a run function")
	}
	if _, dup := p.commands[c.Name]; dup {
		panic("cli: duplicate command " + c.Name)
	}
	if p.commands == nil {
		p.commands = map[string]Command{}
	}
	p.commands[c.Name] = c
}

// Commands returns the registered commands, sorted by name.
func (p *Program) Commands() []Command {
	cs := make([]Command, 0, len(p.commands))
	for _, c := range p.commands {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	return cs
}

// Run dispatches args[0] to its subcommand ("help X" and "X --help" alike)
// and returns the process exit code.
func (p *Program) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		p.usage(stderr)
		return ExitUsage
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "help" {
		if len(args) > 1 && name == "help" {
			if c, ok := p.commands[args[1]]; ok {
				return c.Run(ctx, []string{"--help"}, stdout, stderr)
			}
			fmt.Fprintf(stderr, "%s: unknown command %q\n", p.Name, args[1])
			p.usage(stderr)
			return ExitUsage
		}
		p.usage(stdout)
		return ExitOK
	}
	c, ok := p.commands[name]
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown command %q\n", p.Name, name)
		p.usage(stderr)
		return ExitUsage
	}
	return c.Run(ctx, args[1:], stdout, stderr)
}

// usage prints the command list.
func (p *Program) usage(w io.Writer) {
	width := 0
	for n := range p.commands {
		width = max(width, len(n))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nUsage:\n  %s COMMAND [flags]\n\nCommands:\n", p.Summary, p.Name)
	for _, c := range p.Commands() {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, c.Name, c.Summary)
	}
	fmt.Fprintf(&b, "\nRun '%s COMMAND --help' for a command's flags and examples.\n", p.Name)
	io.WriteString(w, b.String())
}

// FlagSet is a pflag.FlagSet that knows its subcommand's help text.
type FlagSet struct {
	*pflag.FlagSet
	usageLine   string            // e.g. "memif-wasm gen --socket PATH ..."
	description string            // what the command does, one or more paragraphs
	examples    string            // example command lines, one per line
	aliases     map[string]string // deprecated flag name -> its new name
}

// NewFlagSet returns the flag set of subcommand name (e.g. "memif-wasm gen").
func NewFlagSet(name, usageLine, description, examples string) *FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &FlagSet{FlagSet: fs, usageLine: usageLine, description: description, examples: examples}
}

// Help writes the full help text: usage, description, flags and examples.
func (fs *FlagSet) Help(w io.Writer) {
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

// ParseArgs parses args. When it returns done, the command must return
// code: --help was asked for (help printed to stdout, ExitOK) or the command
// line was wrong (the reason and a hint printed to stderr, ExitUsage). A
// deprecated flag name that was used is reported on stderr.
func (fs *FlagSet) ParseArgs(args []string, stdout, stderr io.Writer) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		for old, new := range fs.aliases {
			if fs.Changed(old) {
				fmt.Fprintf(stderr, "%s: --%s is deprecated, use --%s\n", fs.Name(), old, new)
			}
		}
		return ExitOK, false
	case errors.Is(err, pflag.ErrHelp):
		fs.Help(stdout)
		return ExitOK, true
	default:
		return fs.UsageError(stderr, "%v", err), true
	}
}

// ParseNoArgs is ParseArgs for a command that takes flags only: a
// positional argument is a usage error.
func (fs *FlagSet) ParseNoArgs(args []string, stdout, stderr io.Writer) (code int, done bool) {
	if code, done := fs.ParseArgs(args, stdout, stderr); done {
		return code, true
	}
	if fs.NArg() > 0 {
		return fs.UsageError(stderr, "unexpected argument %q", fs.Arg(0)), true
	}
	return ExitOK, false
}

// UsageError reports a command-line mistake on stderr and returns ExitUsage.
func (fs *FlagSet) UsageError(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "%s: %s\nUsage: %s\nRun '%s --help' for flags and examples.\n",
		fs.Name(), fmt.Sprintf(format, a...), fs.usageLine, fs.Name())
	return ExitUsage
}

// Alias adds old as a deprecated, hidden name of the flag new.
func (fs *FlagSet) Alias(old, new string) {
	f := fs.Lookup(new)
	fs.Var(f.Value, old, f.Usage)
	fs.MarkHidden(old)
	if fs.aliases == nil {
		fs.aliases = map[string]string{}
	}
	fs.aliases[old] = new
}

// PrintJSON writes v to w as indented JSON, the form of every --json
// output, and returns ExitOK.
func PrintJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
	return ExitOK
}

// Fail reports err of command (e.g. "memif-wasm bench") on stderr and
// returns ExitFailure.
func Fail(stderr io.Writer, command string, err error) int {
	fmt.Fprintf(stderr, "%s: %v\n", command, err)
	return ExitFailure
}
