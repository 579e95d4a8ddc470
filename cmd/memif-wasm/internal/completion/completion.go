// Package completion writes bash and zsh completion scripts for a command
// line of subcommands: it completes the subcommand names, each one's flags
// (read from its --help text, so the script always matches the binary),
// a subcommand's own commands where it has them, and file names elsewhere.
package completion

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Command is one subcommand: its name, its --help text and the commands it
// takes as its first argument, if any.
type Command struct {
	Name string
	Help string
	Subs []string
}

// flagName matches a flag's line in pflag's help: "  -w, --write" or "      --json".
var flagName = regexp.MustCompile(`(?m)^\s+(?:-\w, )?(--[\w-]+)`)

// Flags lists the long flags a --help text describes, in order.
func Flags(help string) []string {
	var flags []string
	for _, m := range flagName.FindAllStringSubmatch(help, -1) {
		flags = append(flags, m[1])
	}
	return flags
}

// Script returns the completion script of program for shell, "bash" or
// "zsh".
func Script(shell, program string, cmds []Command) (string, error) {
	var script string
	switch shell {
	case "bash":
		script = bashScript
	case "zsh":
		script = zshScript
	default:
		return "", fmt.Errorf("completion: unknown shell %q: want bash or zsh", shell)
	}
	cmds = append([]Command(nil), cmds...)
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
	names := make([]string, len(cmds))
	var cases strings.Builder
	for i, c := range cmds {
		names[i] = c.Name
		fmt.Fprintf(&cases, "    %s) flags=%q; subs=%q ;;\n", c.Name, strings.Join(Flags(c.Help), " "), strings.Join(c.Subs, " "))
	}
	fn := "_" + strings.NewReplacer("-", "_", ".", "_").Replace(program)
	return strings.NewReplacer("@PROGRAM@", program, "@FUNC@", fn,
		"@COMMANDS@", strings.Join(names, " "), "@CASES@", cases.String()).Replace(script), nil
}

const bashScript = `# bash completion for @PROGRAM@ (@PROGRAM@ completion bash)
@FUNC@() {
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
complete -o filenames -F @FUNC@ @PROGRAM@
`

const zshScript = `#compdef @PROGRAM@
# zsh completion for @PROGRAM@ (@PROGRAM@ completion zsh)
@FUNC@() {
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
compdef @FUNC@ @PROGRAM@
`
