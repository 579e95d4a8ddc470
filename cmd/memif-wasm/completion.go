package main

import (
	"bytes"
	"context"
	"io"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/completion"
)

func init() {
	register(command{name: "completion", summary: "print a bash or zsh completion script", run: completionMain})
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
	fs := newFlagSet("completion", "memif-wasm completion bash|zsh", completionDescription, completionExamples)
	if code, done := fs.parse(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() != 1 || fs.Arg(0) != "bash" && fs.Arg(0) != "zsh" {
		return fs.usageError(stderr, "want one shell: bash or zsh")
	}
	var cmds []completion.Command
	for name, c := range commands {
		var help bytes.Buffer
		c.run(ctx, []string{"--help"}, &help, io.Discard)
		cc := completion.Command{Name: name, Help: help.String()}
		if name == "ctl" {
			cc.Subs = ctlCommands
		}
		cmds = append(cmds, cc)
	}
	script, err := completion.Script(fs.Arg(0), "memif-wasm", cmds)
	if err != nil {
		return fs.usageError(stderr, "%v", err)
	}
	io.WriteString(stdout, script)
	return exitOK
}
