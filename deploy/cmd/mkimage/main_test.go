package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/deploy/image"
	"github.com/memif-wasm/memif-wasm/deploy/internal/deploytest"
)

func TestMkimageFlagsRefused(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "nothing to do"},
		{[]string{"--layout", t.TempDir(), "extra"}, "unexpected arguments"},
		{[]string{"--layout", t.TempDir(), "--plugins", filepath.Join(t.TempDir(), "*.wasm")}, "matches no file"},
		{[]string{"--layout", t.TempDir(), "--plugins", "[", "--binary", "x"}, "--plugins"},
		{[]string{"--layout", t.TempDir(), "--binary", "/bin/sh"}, "not statically linked"},
		{[]string{"--bogus"}, "not defined"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		if err := run(c.args, &out); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", c.args, err, c.want)
		}
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if err := run([]string{"--layout", t.TempDir(), "--binary", "/bin/sh"}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("bad SOURCE_DATE_EPOCH: %v", err)
	}
}

// TestMkimageLayout runs the command as `make image` does, on a static
// binary and the example plugins, and reads the layout back.
func TestMkimageLayout(t *testing.T) {
	plugins := deploytest.Plugins(t)
	// A small static binary: this command's own package would do, but any
	// static Go program shows the command's wiring.
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "memif-wasm")
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	layoutDir := filepath.Join(dir, "oci")
	var out bytes.Buffer
	args := []string{"--binary", bin, "--plugins", filepath.Join(deploytest.RepoRoot, "plugins/build/*.wasm"), "--layout", layoutDir, "--tag", "t1", "--version", "v1.2.3"}
	if err := run(args, &out); err != nil {
		t.Fatal(err)
	}
	img, err := image.ReadLayout(layoutDir, "t1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := image.Inspect(img)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), s.Digest.String()) {
		t.Errorf("output does not give the digest %s:\n%s", s.Digest, out.String())
	}
	if s.Labels["org.opencontainers.image.version"] != "v1.2.3" {
		t.Errorf("labels %v", s.Labels)
	}
	if len(s.Files) != len(plugins)+1 {
		t.Errorf("%d files, want the binary and %d plugins", len(s.Files), len(plugins))
	}
	cf, _ := img.ConfigFile()
	if cf.Created.Unix() != 1700000000 {
		t.Errorf("created %v, want SOURCE_DATE_EPOCH", cf.Created)
	}
}
