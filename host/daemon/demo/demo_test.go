package demo

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The default pipeline names the files it needs, and where they come from,
// when they are missing (as outside a checkout).
func TestDefaultPipelineMissing(t *testing.T) {
	_, err := DefaultPipeline(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "counter.wasm, acl-c.wasm, macswap.wasm") || !strings.Contains(err.Error(), "--plugins-dir") {
		t.Fatalf("err = %v", err)
	}
}

func TestDefaultPipeline(t *testing.T) {
	dir := t.TempDir()
	for _, f := range DefaultFiles {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
	}
	ps, err := DefaultPipeline(dir)
	if err != nil || len(ps) != 3 || ps[1].Name != "acl" || ps[1].Config != string(ACLConfig()) || !filepath.IsAbs(ps[0].File) {
		t.Fatalf("%+v %v", ps, err)
	}
	// One rule: deny UDP from ACLDeniedPort.
	c := ACLConfig()
	if string(c[:4]) != "MWA1" || binary.LittleEndian.Uint16(c[6:]) != 1 || binary.LittleEndian.Uint16(c[8+8:]) != ACLDeniedPort {
		t.Errorf("acl config % x", c)
	}
}

func TestUserPipelineNames(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.wasm")
	os.WriteFile(p, []byte("x"), 0o644)
	ps, err := UserPipeline([]string{p, p})
	if err != nil || ps[0].PluginName() != "f" || ps[1].PluginName() != "f-2" {
		t.Fatalf("%+v %v", ps, err)
	}
	if _, err := UserPipeline([]string{filepath.Join(dir, "nope.wasm")}); err == nil {
		t.Error("missing file accepted")
	}
}
