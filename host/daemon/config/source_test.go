package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const ociSrc = "oci://127.0.0.1:5000/plugins/acl:v1"

// withSource replaces the first plugin's file with lines (plugin keys).
func withSource(lines ...string) string {
	return strings.Replace(good, "- file: p.wasm", "- "+strings.Join(lines, "\n            "), 1)
}

func TestSourceKeys(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	y := `registry:
  cache_dir: cache
  docker_config: docker/config.json
  ca_file: ca.pem
  insecure: [registry.lab:5000]
  max_module_size: 1048576
  attempts: 3
  backoff: 100ms
` + strings.Replace(withSource("source: "+ociSrc, "pull_policy: Always", "pull_interval: 30s\n          - file: local.wasm", "signature: local.wasm.sig"),
		"- name: t\n", "- name: t\n    signatures:\n      policy: require\n      keys: [keys/cosign.pub]\n", 1)
	os.WriteFile(p, []byte(y), 0o600)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Registry
	if r.CacheDir != filepath.Join(dir, "cache") || r.CAFile != filepath.Join(dir, "ca.pem") || r.DockerConfig != filepath.Join(dir, "docker/config.json") ||
		len(r.Insecure) != 1 || r.MaxModuleSize != 1<<20 || r.Attempts != 3 || r.Backoff != 100*time.Millisecond {
		t.Errorf("registry: %+v", r)
	}
	tn := c.Tenants[0]
	if tn.Signatures.Policy != "require" || tn.Signatures.Keys[0] != filepath.Join(dir, "keys/cosign.pub") {
		t.Errorf("signatures: %+v", tn.Signatures)
	}
	pl := tn.Interfaces[0].Plugins
	if pl[0].Source != ociSrc || pl[0].PullPolicy != "Always" || pl[0].PullInterval != 30*time.Second || pl[0].PluginName() != "acl" {
		t.Errorf("oci plugin: %+v", pl[0])
	}
	if pl[1].Signature != filepath.Join(dir, "local.wasm.sig") {
		t.Errorf("file plugin signature not resolved: %q", pl[1].Signature)
	}
}

func TestBadSourceConfigs(t *testing.T) {
	sha := strings.Repeat("a", 64)
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"file and source", withSource("file: p.wasm", "source: "+ociSrc), []string{"plugins[0].source", "not both"}},
		{"neither", withSource("name: p"), []string{"plugins[0].file", "required (or source)"}},
		{"bad scheme", withSource("source: ftp://x/p.wasm"), []string{"plugins[0].source", "unsupported scheme"}},
		{"plain http", withSource("source: http://x/p.wasm"), []string{"plugins[0].source", "unsupported scheme"}},
		{"local path as source", withSource("source: p.wasm"), []string{"plugins[0].source", "a local module goes in file"}},
		{"no tag", withSource("source: oci://reg.io/p"), []string{"plugins[0].source", "no tag or digest"}},
		{"no registry", withSource("source: oci://p:v1"), []string{"plugins[0].source", "no registry host"}},
		{"https without sha256", withSource("source: https://h.io/p.wasm"), []string{"plugins[0].sha256", "required with an https source"}},
		{"bad sha256", withSource("source: https://h.io/p.wasm", "sha256: xyz"), []string{"plugins[0].sha256", "64 lower-case hex"}},
		{"sha256 against digest", withSource("source: oci://reg.io/p@sha256:"+sha, "sha256: "+strings.Repeat("b", 64)), []string{"plugins[0].sha256", "differs from the digest"}},
		{"bad pull policy", withSource("source: "+ociSrc, "pull_policy: Sometimes"), []string{"plugins[0].pull_policy", "IfNotPresent or Always"}},
		{"pull policy on https", withSource("source: https://h.io/p.wasm", "sha256: "+sha, "pull_policy: Always"), []string{"plugins[0].pull_policy", "only for an oci source"}},
		{"interval without Always", withSource("source: "+ociSrc, "pull_interval: 10s"), []string{"plugins[0].pull_interval", "needs pull_policy Always"}},
		{"interval too short", withSource("source: "+ociSrc, "pull_policy: Always", "pull_interval: 10ms"), []string{"plugins[0].pull_interval", "below 1s"}},
		{"interval on a digest", withSource("source: oci://reg.io/p@sha256:"+sha, "pull_policy: Always", "pull_interval: 10s"), []string{"plugins[0].pull_interval", "names a digest"}},
		{"signature on oci", withSource("source: "+ociSrc, "signature: p.sig"), []string{"plugins[0].signature", "found in its registry"}},
		{"signature over http", withPlugin("signature: http://h/p.sig"), []string{"plugins[0].signature", "plain http"}},
		{"bad signature policy", withTenant("signatures:\n      policy: maybe\n      keys: [k.pub]"), []string{"tenants[0].signatures.policy", "require, warn or off"}},
		{"require without keys", withTenant("signatures:\n      policy: require"), []string{"tenants[0].signatures.keys", "at least one public key"}},
		{"bad attempts", "registry:\n  attempts: 1000\n", []string{"registry.attempts", "outside 0..100"}},
		{"bad backoff", "registry:\n  backoff: 2h\n", []string{"registry.backoff", "outside 0s..1m0s"}},
		{"bad insecure", "registry:\n  insecure: ['http://x']\n", []string{"registry.insecure[0]", "not HOST or HOST:PORT"}},
		{"negative size", "registry:\n  max_module_size: -1\n", []string{"registry.max_module_size", "negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "bad.yaml")
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
