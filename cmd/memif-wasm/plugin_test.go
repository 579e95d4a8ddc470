package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
	"github.com/memif-wasm/memif-wasm/memif/gen"
)

// keyPair writes an unencrypted PKCS #8 ECDSA P-256 key and its public key
// (as openssl genpkey and openssl pkey -pubout would) into dir.
func keyPair(t *testing.T, dir, name string) (priv, pub string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	pder, _ := x509.MarshalPKIXPublicKey(k.Public())
	priv, pub = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".pub")
	os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}), 0o644)
	return priv, pub
}

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestRunFromOCISigned is the end-to-end case of plugins from registries:
// a built plugin is pushed and signed with 'plugin push' to a real registry
// (Debian's docker-registry on loopback), 'memif-wasm run' loads it from its
// oci:// reference with signatures required, and traffic flows through it.
// An unsigned module under another tag is refused by run with the reason.
func TestRunFromOCISigned(t *testing.T) {
	host, _ := hosttest.Registry(t)
	dir := t.TempDir()
	priv, pub := keyPair(t, dir, "cosign")
	plugin := hosttest.Build(t, dir, "reflect", int(abi.TX), 0)
	ref := "oci://" + host + "/plugins/reflect:v1"
	code, out, errs := runCLI("plugin", "push", plugin, ref, "--sign-key", priv)
	if code != cli.ExitOK || !strings.HasPrefix(out, "sha256:") {
		t.Fatalf("plugin push: %d %q %q", code, out, errs)
	}
	digest := strings.TrimSpace(out)
	// Another module (the same bytes would share the signed digest).
	other := hosttest.Build(t, dir, "drop", int(abi.Drop), 0)
	if code, out, errs := runCLI("plugin", "push", other, "oci://"+host+"/plugins/reflect:unsigned"); code != cli.ExitOK {
		t.Fatalf("unsigned push: %d %q %q", code, out, errs)
	}
	pulled := filepath.Join(dir, "pulled.wasm")
	code, out, errs = runCLI("plugin", "pull", ref, "--key", pub, "-o", pulled)
	if code != cli.ExitOK || !strings.Contains(out, "signed by "+pub) || !strings.Contains(out, digest) {
		t.Fatalf("plugin pull: %d %q %q", code, out, errs)
	}
	if a, b := readOrFail(t, plugin), readOrFail(t, pulled); !bytes.Equal(a, b) {
		t.Fatal("pulled module differs from the pushed one")
	}

	writeCfg := func(name, tag string) string {
		p := filepath.Join(dir, name+".yaml")
		y := fmt.Sprintf(`
registry:
  cache_dir: cache
tenants:
  - name: blue
    signatures:
      policy: require
      keys: [cosign.pub]
    interfaces:
      - name: north
        socket: %s/%s.sock
        role: master
        id: 7
        plugins:
          - source: oci://%s/plugins/reflect:%s
            pull_policy: Always
            pull_interval: 5s
`, dir, name, host, tag)
		if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Unsigned: refused, with the reason, and nothing runs.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var o, e bytes.Buffer
	if code := run(ctx, []string{"run", "--config", writeCfg("unsigned", "unsigned"), "--admin-socket", filepath.Join(dir, "u.sock")}, &o, &e); code != cli.ExitFailure ||
		!strings.Contains(e.String(), "no signature") {
		t.Fatalf("unsigned run: exit %d, stderr:\n%s", code, e.String())
	}

	admin := filepath.Join(dir, "admin.sock")
	bg := startRun(t, "run", "--config", writeCfg("signed", "v1"), "--admin-socket", admin, "--watch=false")
	bg.waitAdmin(t, admin)
	rep, err := gen.Run(ctx, gen.Config{Socket: filepath.Join(dir, "signed.sock"), ID: 7, Count: 2000, Rate: 40000})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unique == 0 || rep.Unique+rep.Lost != 2000 {
		t.Fatalf("gen through the pulled plugin: %+v\nrun stderr:\n%s", rep, bg.stderr.String())
	}
	if code, out, _ := ctl(t, admin, "show", "blue/north", "--json"); code != cli.ExitOK || !strings.Contains(out, digest) || !strings.Contains(out, `"signed_by"`) {
		t.Errorf("ctl show lacks the digest %s or signer: %d\n%s", digest, code, out)
	}
	if code, out, _ := ctl(t, admin, "stats"); code != cli.ExitOK || !strings.Contains(out, "plugin pulls: ") {
		t.Errorf("ctl stats lacks the pulls: %d\n%s", code, out)
	}
	// ctl load takes a reference too, under the tenant's policy.
	if code, out, errs := ctl(t, admin, "load", "blue/north", "oci://"+host+"/plugins/reflect:unsigned", "--name", "extra", "--index", "0"); code == cli.ExitOK || !strings.Contains(errs, "no signature") {
		t.Errorf("ctl load of an unsigned module: %d %q %q", code, out, errs)
	}
	if code, out, errs := ctl(t, admin, "load", "blue/north", ref, "--name", "second"); code != cli.ExitOK {
		t.Errorf("ctl load of a signed module: %d %q %q", code, out, errs)
	}
	if code := bg.stop(t); code != cli.ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, bg.stderr.String())
	}

	// The quick form takes an oci:// reference as --plugin too.
	qsock, qadmin := filepath.Join(dir, "quick.sock"), filepath.Join(dir, "quick-admin.sock")
	bg = startRun(t, "run", "--socket", qsock, "--role", "master", "--id", "3", "--plugin", ref, "--admin-socket", qadmin)
	bg.waitAdmin(t, qadmin)
	if rep, err := gen.Run(ctx, gen.Config{Socket: qsock, ID: 3, Count: 500, Rate: 40000}); err != nil || rep.Unique == 0 {
		t.Fatalf("quick run from %s: %v %+v", ref, err, rep)
	}
}

func readOrFail(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPluginCommandErrors(t *testing.T) {
	dir := t.TempDir()
	notWasm := filepath.Join(dir, "x.wasm")
	os.WriteFile(notWasm, []byte("not wasm"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"plugin"}, cli.ExitUsage, "want push, pull or sign"},
		{[]string{"plugin", "fly"}, cli.ExitUsage, `unknown operation "fly"`},
		{[]string{"plugin", "push", notWasm}, cli.ExitUsage, "push wants FILE.wasm and oci://"},
		{[]string{"plugin", "push", notWasm, "oci://127.0.0.1:1/p:v1"}, cli.ExitFailure, "not a wasm module"},
		{[]string{"plugin", "push", notWasm, "oci://127.0.0.1:1/p@sha256:" + strings.Repeat("a", 64)}, cli.ExitFailure, "want oci://REGISTRY/REPO:TAG"},
		{[]string{"plugin", "pull", "oci://127.0.0.1:1/p:v1"}, cli.ExitUsage, "-o FILE"},
		{[]string{"plugin", "pull", "oci://127.0.0.1:1/p:v1", "-o", filepath.Join(dir, "o"), "--signatures", "maybe"}, cli.ExitUsage, "require, warn or off"},
		{[]string{"plugin", "pull", "https://h.invalid/p.wasm", "-o", filepath.Join(dir, "o")}, cli.ExitFailure, "needs its sha256"},
		{[]string{"plugin", "sign", notWasm}, cli.ExitUsage, "--sign-key"},
		{[]string{"plugin", "sign", notWasm, "--sign-key", notWasm}, cli.ExitFailure, "no PEM block"},
	} {
		code, _, errs := runCLI(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}
