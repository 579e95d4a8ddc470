package main

import (
	"bytes"
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
// binary and the example pass plugins (Go and C: the glob, not their size,
// is under test), and reads the layout back.
func TestMkimageLayout(t *testing.T) {
	deploytest.Plugins(t)
	glob := filepath.Join(deploytest.RepoRoot, "plugins/build/pass*.wasm")
	plugins, _ := filepath.Glob(glob)
	dir := t.TempDir()
	bin := deploytest.TinyStatic(t, dir)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	layoutDir := filepath.Join(dir, "oci")
	var out bytes.Buffer
	args := []string{"--binary", bin, "--plugins", glob, "--layout", layoutDir, "--tag", "t1", "--version", "v1.2.3"}
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
	if len(plugins) < 2 || len(s.Files) != len(plugins)+1 {
		t.Errorf("%d files, want the binary and %d plugins", len(s.Files), len(plugins))
	}
	cf, _ := img.ConfigFile()
	if cf.Created.Unix() != 1700000000 {
		t.Errorf("created %v, want SOURCE_DATE_EPOCH", cf.Created)
	}
}
