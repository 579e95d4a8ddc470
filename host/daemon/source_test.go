package daemon

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/daemon/source"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
)

// signingKey makes an Ed25519 key and writes its public half as cosign.pub in dir.
func signingKey(t *testing.T, dir, name string) (crypto.Signer, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	p := filepath.Join(dir, name+".pub")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return priv, p
}

// inProcessRegistry serves an OCI registry on loopback until the test ends
// (or the caller closes it) and returns it with its host:port.
func inProcessRegistry(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return srv, strings.TrimPrefix(srv.URL, "http://")
}

func push(t *testing.T, file, dest string, signer crypto.Signer) string {
	t.Helper()
	f, err := source.New(source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wasm, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.Push(context.Background(), wasm, dest, signer)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func runningDigest(d *Daemon) string {
	s := d.Snapshot()
	return s.Tenants[0].Interfaces[0].Plugins[0].Digest
}

// TestSourceOCISignedTagMoves runs a plugin from an oci:// tag with
// signatures required: traffic flows; the tag moving to a signed version
// reloads it; the tag moving to a badly signed one, or the registry going
// down, leaves the running version running, with the failure counted.
func TestSourceOCISignedTagMoves(t *testing.T) {
	dir := t.TempDir()
	srv, host := inProcessRegistry(t)
	signer, pub := signingKey(t, dir, "cosign")
	other, _ := signingKey(t, dir, "other")
	ref := "oci://" + host + "/plugins/tx:stable"
	d1 := push(t, buildPlugin(t, dir, "tx", int(abi.TX), 0), ref, signer)

	sock := filepath.Join(dir, "memif.sock")
	cfg := oneInterface(sock)
	cfg.Engine.CacheDir = hosttest.CacheDir(t)
	cfg.Registry = config.Registry{CacheDir: filepath.Join(dir, "cache"), Attempts: 2, Backoff: 10 * time.Millisecond}
	cfg.Tenants[0].Signatures = config.Signatures{Policy: "require", Keys: []string{pub}}
	cfg.Tenants[0].Interfaces[0].Plugins = []config.Plugin{{Source: ref, PullPolicy: "Always", PullInterval: time.Second}}
	d := startDaemon(t, cfg, Options{})
	if got := runningDigest(d); got != d1 {
		t.Fatalf("running %s, want %s", got, d1)
	}
	if pl := d.Snapshot().Tenants[0].Interfaces[0].Plugins[0]; pl.SignedBy != pub || pl.Name != "tx" {
		t.Fatalf("snapshot: %+v", pl)
	}
	p := newPeer(t, sock, 0, false)
	sendThrough(t, p, 200)

	// The tag moves to another signed version: reloaded by the poller.
	d2 := push(t, hosttest.BuildStateful(t, dir, "tx2", int(abi.TX), 0), ref, signer)
	waitFor(t, 10*time.Second, "the moved tag to be reloaded", func() bool { return runningDigest(d) == d2 })
	sendThrough(t, p, 200)

	// The tag moves to a version signed by an unknown key: refused.
	reloads := func() uint64 { return d.Snapshot().Reloads["t"]["load_failed"] }
	d3 := push(t, hosttest.BuildDeep(t, dir, "tx3", int(abi.TX), 4), ref, other)
	waitFor(t, 10*time.Second, "the badly signed version to be refused", func() bool { return reloads() > 0 })
	if got := runningDigest(d); got != d2 || got == d3 {
		t.Fatalf("running %s after a badly signed tag, want %s", got, d2)
	}
	if n := d.Snapshot().Pulls["signature"]; n == 0 {
		t.Fatalf("pulls %v: no signature failure counted", d.Snapshot().Pulls)
	}
	time.Sleep(1500 * time.Millisecond) // another interval: not tried again
	if n := reloads(); n != 1 {
		t.Fatalf("the refused digest was tried %d times", n)
	}
	sendThrough(t, p, 200)

	// The registry goes down: the running version keeps serving, the
	// failures are counted.
	srv.Close()
	waitFor(t, 10*time.Second, "a network failure to be counted", func() bool { return d.Snapshot().Pulls["network"] > 0 })
	sendThrough(t, p, 200)
	if got := runningDigest(d); got != d2 {
		t.Fatalf("running %s with the registry down, want %s", got, d2)
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSourceRefusedAtStart: an unsigned module, a wrong digest and an
// unreachable registry each fail New with the reason, counted.
func TestSourceRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	srv, host := inProcessRegistry(t)
	_, pub := signingKey(t, dir, "cosign")
	ref := "oci://" + host + "/plugins/tx:v1"
	push(t, buildPlugin(t, dir, "tx", int(abi.TX), 0), ref, nil)
	base := func(pc config.Plugin) *config.Config {
		cfg := oneInterface(filepath.Join(dir, "memif.sock"))
		cfg.Registry = config.Registry{Attempts: 2, Backoff: time.Millisecond}
		cfg.Tenants[0].Signatures = config.Signatures{Policy: "require", Keys: []string{pub}}
		cfg.Tenants[0].Interfaces[0].Plugins = []config.Plugin{pc}
		return cfg
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		pc   config.Plugin
		want error
	}{
		{"unsigned", config.Plugin{Source: ref}, source.ErrUnsigned},
		{"wrong digest", config.Plugin{Source: ref, SHA256: strings.Repeat("0", 64)}, source.ErrDigest},
		{"unsigned file", config.Plugin{File: buildPlugin(t, dir, "f", int(abi.TX), 0)}, source.ErrUnsigned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := New(ctx, base(tc.pc), Options{Logger: quietLogger()})
			if err == nil {
				d.Close()
				t.Fatal("accepted")
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), `plugin "`) {
				t.Fatalf("got %v, want %v naming the plugin", err, tc.want)
			}
		})
	}
	srv.Close()
	_, err := New(ctx, base(config.Plugin{Source: ref}), Options{Logger: quietLogger()})
	if !errors.Is(err, source.ErrNetwork) {
		t.Fatalf("registry down: got %v", err)
	}
}

// TestApplySignaturePolicy: requiring signatures of a running unsigned
// plugin fails the change and leaves everything as it was; with its
// signature configured the same change applies and the plugin is verified.
func TestApplySignaturePolicy(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	file := buildPlugin(t, dir, "tx", int(abi.TX), 0)
	cfg := oneInterface(sock, file)
	d := startDaemon(t, cfg, Options{})
	p := newPeer(t, sock, 0, false)
	signer, pub := signingKey(t, dir, "cosign")

	next := *cfg
	next.Tenants = []config.Tenant{cfg.Tenants[0]}
	next.Tenants[0].Signatures = config.Signatures{Policy: "require", Keys: []string{pub}}
	ctx := context.Background()
	if _, err := d.Apply(ctx, &next); !errors.Is(err, source.ErrUnsigned) {
		t.Fatalf("require over an unsigned plugin: got %v", err)
	}
	if pol := d.Config().Tenants[0].Signatures.Policy; pol != "" {
		t.Fatalf("policy %q after a failed change", pol)
	}
	sendThrough(t, p, 100)

	wasm, _ := os.ReadFile(file)
	sig, err := source.Sign(signer, wasm)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(file+".sig", []byte(sig), 0o600)
	next.Tenants[0].Interfaces = []config.Interface{cfg.Tenants[0].Interfaces[0]}
	next.Tenants[0].Interfaces[0].Plugins = []config.Plugin{{File: file, Signature: file + ".sig"}}
	if _, err := d.Apply(ctx, &next); err != nil {
		t.Fatal(err)
	}
	if by := d.Snapshot().Tenants[0].Interfaces[0].Plugins[0].SignedBy; by != pub {
		t.Fatalf("signed by %q, want %s", by, pub)
	}
	sendThrough(t, p, 100)
}

// TestApplySourcePrefetched: a config change that adds a source plugin
// fetches it once, before the daemon's lock (the fetch under the lock finds
// it prefetched), and one whose registry is down changes nothing.
func TestApplySourcePrefetched(t *testing.T) {
	dir := t.TempDir()
	srv, host := inProcessRegistry(t)
	ref := "oci://" + host + "/plugins/tx:v1"
	push(t, buildPlugin(t, dir, "tx", int(abi.TX), 0), ref, nil)
	sock := filepath.Join(dir, "memif.sock")
	cfg := oneInterface(sock, buildPlugin(t, dir, "pass", int(abi.Pass), 0))
	cfg.Registry = config.Registry{Attempts: 2, Backoff: time.Millisecond}
	d := startDaemon(t, cfg, Options{})

	next := *cfg
	next.Tenants = []config.Tenant{cfg.Tenants[0]}
	next.Tenants[0].Interfaces = []config.Interface{cfg.Tenants[0].Interfaces[0]}
	next.Tenants[0].Interfaces[0].Plugins = []config.Plugin{{Source: ref, PullPolicy: "Always"}}
	ctx := context.Background()
	if _, err := d.Apply(ctx, &next); err != nil {
		t.Fatal(err)
	}
	if pulls := d.Snapshot().Pulls; pulls["ok"] != 1 || len(pulls) != 1 {
		t.Fatalf("pulls %v, want one fetch", pulls)
	}
	p := newPeer(t, sock, 0, false)
	sendThrough(t, p, 100)

	srv.Close()
	other := next
	other.Tenants = []config.Tenant{next.Tenants[0]}
	other.Tenants[0].Interfaces = []config.Interface{next.Tenants[0].Interfaces[0]}
	other.Tenants[0].Interfaces[0].Plugins = []config.Plugin{{Source: ref, PullPolicy: "Always", Name: "second"}}
	if _, err := d.Apply(ctx, &other); !errors.Is(err, source.ErrNetwork) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("registry down: got %v", err)
	}
	if n := len(d.Snapshot().Tenants[0].Interfaces[0].Plugins); n != 1 || d.Config().Tenants[0].Interfaces[0].Plugins[0].Name != "" {
		t.Fatal("the failed change changed the pipeline")
	}
	sendThrough(t, p, 100)
}

// TestCheckSources: Check fetches and verifies source plugins as New does.
func TestCheckSources(t *testing.T) {
	dir := t.TempDir()
	_, host := inProcessRegistry(t)
	signer, pub := signingKey(t, dir, "cosign")
	signed, unsigned := "oci://"+host+"/p/tx:signed", "oci://"+host+"/p/drop:unsigned"
	push(t, buildPlugin(t, dir, "tx", int(abi.TX), 0), signed, signer)
	push(t, buildPlugin(t, dir, "drop", int(abi.Drop), 0), unsigned, nil)
	cfg := oneInterface(filepath.Join(dir, "memif.sock"))
	cfg.Tenants[0].Signatures = config.Signatures{Policy: "require", Keys: []string{pub}}
	cfg.Tenants[0].Interfaces[0].Plugins = []config.Plugin{{Source: signed}}
	if err := Check(context.Background(), cfg, Options{}); err != nil {
		t.Fatal(err)
	}
	cfg.Tenants[0].Interfaces[0].Plugins = append(cfg.Tenants[0].Interfaces[0].Plugins, config.Plugin{Source: unsigned})
	if err := Check(context.Background(), cfg, Options{}); !errors.Is(err, source.ErrUnsigned) {
		t.Fatalf("unsigned: got %v", err)
	}
}
