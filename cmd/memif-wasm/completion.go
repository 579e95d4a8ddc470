package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
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
const ctlCommands = "help list stats show load unload reload control reload-config"

var flagName = regexp.MustCompile(`(?m)^\s+(?:-\w, )?(--[\w-]+)`)

func completionMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("completion", "memif-wasm completion bash|zsh", completionDescription, completionExamples)
	if code, done := fs.parse(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() != 1 || fs.Arg(0) != "bash" && fs.Arg(0) != "zsh" {
		return fs.usageError(stderr, "want one shell: bash or zsh")
	}
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var cases strings.Builder
	for _, n := range names {
		var help bytes.Buffer
		commands[n].run(ctx, []string{"--help"}, &help, io.Discard)
		var flags []string
		for _, m := range flagName.FindAllStringSubmatch(help.String(), -1) {
			flags = append(flags, m[1])
		}
		subs := ""
		if n == "ctl" {
			subs = ctlCommands
		}
		fmt.Fprintf(&cases, "    %s) flags=%q; subs=%q ;;\n", n, strings.Join(flags, " "), subs)
	}
	script := bashCompletion
	if fs.Arg(0) == "zsh" {
		script = zshCompletion
	}
	io.WriteString(stdout, strings.NewReplacer("@COMMANDS@", strings.Join(names, " "), "@CASES@", cases.String()).Replace(script))
	return exitOK
}

const bashCompletion = `# bash completion for memif-wasm (memif-wasm completion bash)
_memif_wasm() {
  local cur=${COMP_WORDS[COMP_CWORD]} flags= subs=
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "@COMMANDS@" -- "$cur"))
    return
  fi
  case ${COMP_WORDS[1]} in
@CASES@  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [[ -n $subs && $COMP_CWORD -eq 2 ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _memif_wasm memif-wasm
`

const zshCompletion = `#compdef memif-wasm
# zsh completion for memif-wasm (memif-wasm completion zsh)
_memif_wasm() {
  local flags= subs=
  if (( CURRENT == 2 )); then
    compadd -- @COMMANDS@
    return
  fi
  case $words[2] in
@CASES@  esac
  if [[ $PREFIX == -* ]]; then
    compadd -- ${=flags}
  elif [[ -n $subs ]] && (( CURRENT == 3 )); then
    compadd -- ${=subs}
  else
    _files
  fi
}
compdef _memif_wasm memif-wasm
`
