package main

import (
	"bytes"
	"context"
	"io"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/completion"
)

func init() {
	program.Register(cli.Command{Name: "completion", Summary: "print a bash or zsh completion script", Run: completionMain})
}

const completionDescription = `Prints a shell completion script for memif-wasm: command names, each command's
flags, ctl's commands, and file names elsewhere. The flags are read from each
command's --help, so the script matches this binary.`

const completionExamples = `source <(memif-wasm completion bash)            # this shell
memif-wasm completion bash > /etc/bash_completion.d/memif-wasm
memif-wasm completion zsh > "${fpath[1]}/_memif-wasm"   # then restart zsh`

// ctlCommands are ctl's own commands, completed after "ctl".
var ctlCommands = []string{"help", "list", "stats", "show", "load", "unload", "reload", "control", "reload-config",
	"trace", "capture", "runtime", "clear", "top"}

func completionMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("memif-wasm completion", "memif-wasm completion bash|zsh", completionDescription, completionExamples)
	if code, done := fs.ParseArgs(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() != 1 || fs.Arg(0) != "bash" && fs.Arg(0) != "zsh" {
		return fs.UsageError(stderr, "want one shell: bash or zsh")
	}
	var cmds []completion.Command
	for _, c := range program.Commands() {
		var help bytes.Buffer
		c.Run(ctx, []string{"--help"}, &help, io.Discard)
		cc := completion.Command{Name: c.Name, Help: help.String()}
		if c.Name == "ctl" {
			cc.Subs = ctlCommands
		}
		cmds = append(cmds, cc)
	}
	script, err := completion.Script(fs.Arg(0), "memif-wasm", cmds)
	if err != nil {
		return fs.UsageError(stderr, "%v", err)
	}
	io.WriteString(stdout, script)
	return cli.ExitOK
}
