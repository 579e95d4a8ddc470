package main

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// repoFile matches paths of the module's tree in help texts and the README.
var repoFile = regexp.MustCompile(`\b(?:plugins|host|sdk|memif|abi)/[\w./-]+\.(?:wasm|json|yaml|rules|wat|md)\b`)

// checkRepoFiles fails for every path in text that is not in the tree;
// plugins/build outputs are checked when make plugins has run.
func checkRepoFiles(t *testing.T, where, text string) (found int) {
	t.Helper()
	_, built := os.Stat("../../plugins/build")
	for _, p := range repoFile.FindAllString(text, -1) {
		if strings.HasPrefix(p, "plugins/build/") && built != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join("../..", p)); err != nil {
			t.Errorf("%s names %s, which does not exist", where, p)
		}
		found++
	}
	return found
}

// Every file a command's help names exists (the help once named acl.json
// and acl.rules, which never did).
func TestHelpNamesExistingFiles(t *testing.T) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		code, out, _ := runArgs(t, n, "--help")
		if code != exitOK {
			t.Fatalf("%s --help: exit %d", n, code)
		}
		checkRepoFiles(t, n+" --help", out)
	}
}

// Every file the README's command lines name exists.
func TestReadmeNamesExistingFiles(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var cmds strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "memif-wasm ") || strings.HasPrefix(strings.TrimSpace(line), "--") {
			cmds.WriteString(line + "\n")
		}
	}
	if n := checkRepoFiles(t, "README.md", cmds.String()); n < 3 {
		t.Errorf("found only %d file names in README's command lines: is the pattern still right?", n)
	}
}

// README's inspect example is admitted (it was refused: acl needs its rules).
func TestReadmeInspectExample(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("compiling the Go acl takes seconds, ~50 s under the race detector")
	}
	acl := builtPlugin(t, "acl.wasm")
	code, out, errs := runArgs(t, "inspect", acl, "--plugin-config", "../../plugins/acl/acl.example.json")
	if code != exitOK || !strings.Contains(out, "admitted     yes") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
}
