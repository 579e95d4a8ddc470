package source

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFiles: SignFile's signature verifies the file under policy require,
// and PushFile/PullFile round-trip a signed module through a registry.
func TestFiles(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	keyFile := filepath.Join(dir, "k.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	pder, _ := x509.MarshalPKIXPublicKey(priv.Public())
	pubFile := filepath.Join(dir, "k.pub")
	os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}), 0o644)
	wasm := filepath.Join(dir, "p.wasm")
	os.WriteFile(wasm, module("files"), 0o644)

	sig, err := SignFile(wasm, keyFile, "")
	if err != nil || sig != wasm+".sig" {
		t.Fatalf("SignFile: %q %v", sig, err)
	}
	f := newFetcher(t, Options{})
	out := filepath.Join(dir, "out.wasm")
	m, err := f.PullFile(context.Background(), Request{Source: wasm, Signatures: SignaturesRequire, Signature: sig}, []string{pubFile}, out)
	if err != nil || !strings.Contains(m.Summary(), "signed by "+pubFile) {
		t.Fatalf("PullFile of a signed file: %v", err)
	}

	reg := newRegistry(t)
	d, err := f.PushFile(context.Background(), wasm, reg.ref("p:v1"), keyFile)
	if err != nil {
		t.Fatal(err)
	}
	m, err = f.PullFile(context.Background(), Request{Source: reg.ref("p:v1"), Signatures: SignaturesRequire}, []string{pubFile}, out)
	if err != nil || !strings.Contains(m.Summary(), "manifest "+d+" (wasm) signed by "+pubFile) {
		t.Fatalf("PullFile: %v %q", err, m.Summary())
	}
	if b, _ := os.ReadFile(out); string(b) != string(module("files")) {
		t.Fatal("pulled file differs")
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", st.Mode())
	}
	if _, err := f.PushFile(context.Background(), wasm, reg.ref("p:v2"), filepath.Join(dir, "missing.pem")); err == nil {
		t.Fatal("a missing key was accepted")
	}
}
