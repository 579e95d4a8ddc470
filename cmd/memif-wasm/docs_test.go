package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
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
	for _, c := range program.Commands() {
		n := c.Name
		code, out, _ := runArgs(t, n, "--help")
		if code != cli.ExitOK {
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
	if code != cli.ExitOK || !strings.Contains(out, "admitted     yes") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
}

// readmeBlock returns the command lines of the first code block after the
// README line that starts with marker, continuation lines joined.
func readmeBlock(t *testing.T, marker string) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n"+marker)
	if i < 0 {
		t.Fatalf("README has no %q", marker)
	}
	s = s[i:]
	start := strings.Index(s, "```\n") + 4
	end := start + strings.Index(s[start:], "```")
	var cmds []string
	for _, l := range strings.Split(strings.ReplaceAll(s[start:end], "\\\n", " "), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			cmds = append(cmds, strings.Join(f, " "))
		}
	}
	return cmds
}

// README's quick run, its generator line and its ctl examples (stats,
// control, reload), run as written (with the real binary, /tmp paths moved to a test directory):
// the acl drops the one flow in eight its example rules deny, the ctl
// examples answer.
func TestReadmeWalkthrough(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("compiling the Go acl and macswap takes seconds, minutes under the race detector (make test runs this without -race)")
	}
	builtPlugin(t, "acl.wasm")
	builtPlugin(t, "macswap.wasm")
	quick := readmeBlock(t, "**Run a pipeline on one interface**")
	others := readmeBlock(t, "**Other commands:**")
	if len(quick) != 2 || len(others) < 3 {
		t.Fatalf("README blocks changed shape: %q %q", quick, others)
	}
	dir, err := os.MkdirTemp("", "mw-readme")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	args := func(line string) []string {
		line = strings.ReplaceAll(line, "/tmp/", dir+"/")
		line = strings.ReplaceAll(line, "127.0.0.1:9190", freePort(t))
		f := strings.Fields(line)
		for i, a := range f {
			f[i] = strings.Trim(a, "'")
		}
		if f[0] != "memif-wasm" {
			t.Fatalf("README line %q does not start with memif-wasm", line)
		}
		return f[1:]
	}
	bin := realBinary(t)
	runLine := args(quick[0])
	cmd := exec.Command(bin, runLine...)
	cmd.Dir = "../.."
	var errb hosttest.SyncBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	waitSocket(t, "unix", filepath.Join(dir, "memif-wasm.sock"), &errb)

	g := exec.Command(bin, append(args(quick[1]), "--json")...)
	out, err := g.Output()
	var rep struct {
		Sent, Received uint64
	}
	if err != nil || json.Unmarshal(out, &rep) != nil || rep.Sent != 100000 {
		t.Fatalf("gen: %v\n%s\ndaemon:\n%s", err, out, errb.String())
	}
	if lost := float64(rep.Sent-rep.Received) / float64(rep.Sent); lost < 0.12 || lost > 0.13 {
		t.Errorf("lost %.4f of the frames, want the acl's 1/8", lost)
	}
	for _, line := range others {
		if !strings.HasPrefix(line, "memif-wasm ctl") {
			continue
		}
		c := exec.Command(bin, args(line)...)
		c.Dir = "../.."
		out, err := c.CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", line, err, out)
		}
		if strings.Contains(line, `"op":"list"`) && !strings.Contains(string(out), `"hits"`) {
			t.Errorf("%s: no rule hits in %s", line, out)
		}
		if strings.Contains(line, " reload ") && !strings.Contains(string(out), "reloaded default/memif0/acl") {
			t.Errorf("%s: %s", line, out)
		}
	}
}
