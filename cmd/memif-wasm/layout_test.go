package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/memif-wasm/memif-wasm"

// layoutRule says which other trees of the module the non-test code of a
// tree (a package and those below it, unless a deeper rule covers them) may
// depend on, directly or not.
type layoutRule struct {
	tree   string
	mayUse []string
}

// The arrows of README.md's architecture. Go's internal rule already keeps
// each tree's internal packages to itself.
var layoutRules = []layoutRule{
	{"abi", nil},
	{"memif", nil},
	{"memif/libmemif/examples", []string{"memif", "sdk", "abi"}}, // programs: the ICMP answers use sdk's checksum
	{"sdk", []string{"abi"}},
	{"host", []string{"abi"}}, // the sandbox knows no memif
	{"host/dataplane", []string{"abi", "host", "memif"}},
	{"host/daemon", []string{"abi", "host", "host/dataplane", "memif"}},
	{"plugins", []string{"abi", "sdk"}},
	{"cmd/memif-wasm", []string{"abi", "host", "host/dataplane", "host/daemon", "memif"}},
}

// TestImportGraph keeps the architecture README.md draws true.
func TestImportGraph(t *testing.T) {
	for pkg, deps := range moduleDeps(t) {
		own := ruleFor(pkg)
		for _, d := range deps {
			if strings.HasPrefix(d, "cmd/") && !(own != nil && under(d, own.tree)) {
				t.Errorf("%s depends on %s: nothing outside the binary may import it", pkg, d)
			}
			if own == nil || under(d, own.tree) {
				continue
			}
			if r := ruleFor(d); r == nil || !slices.Contains(own.mayUse, r.tree) {
				t.Errorf("%s depends on %s; the %s tree may use only %v", pkg, d, own.tree, own.mayUse)
			}
		}
	}
}

// moduleDeps lists every package of the module (relative to it) with its
// non-test dependencies in the module.
func moduleDeps(t *testing.T) map[string][]string {
	t.Helper()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(gobin, "list", "-json=ImportPath,Deps", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("cannot list the module's packages with %s: %v", gobin, err)
	}
	deps := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		var own []string
		for _, d := range p.Deps {
			if rel, ok := strings.CutPrefix(d, module+"/"); ok {
				own = append(own, rel)
			}
		}
		deps[strings.TrimPrefix(p.ImportPath, module+"/")] = own
	}
	if len(deps) < 20 {
		t.Fatalf("go list found only %d packages", len(deps))
	}
	return deps
}

// ruleFor returns the rule of the deepest tree holding package p, or nil.
func ruleFor(p string) *layoutRule {
	var best *layoutRule
	for i := range layoutRules {
		r := &layoutRules[i]
		if under(p, r.tree) && (best == nil || len(r.tree) > len(best.tree)) {
			best = r
		}
	}
	return best
}

// under reports whether package p lies in tree.
func under(p, tree string) bool { return p == tree || strings.HasPrefix(p, tree+"/") }

// TestThinBinary keeps cmd/memif-wasm flag parsing and wiring (issue #10):
// its non-test Go files stay under 1,500 lines; logic belongs in libraries.
func TestThinBinary(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines += strings.Count(string(b), "\n")
	}
	if lines >= 1500 {
		t.Errorf("cmd/memif-wasm has %d non-test lines, want under 1,500: move logic into host/daemon/...", lines)
	}
}
