package source

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
)

// TestRealRegistry runs the cases against Debian's docker-registry
// (distribution 2.8) on loopback: what the in-process registry accepts, a
// real one may not (media types, manifest checks, redirects).
func TestRealRegistry(t *testing.T) {
	host, stop := hosttest.Registry(t)
	ctx := context.Background()
	f := newFetcher(t, Options{CacheDir: t.TempDir(), Attempts: 2, MaxSize: 1 << 16})
	ref := func(s string) string { return "oci://" + host + "/" + s }
	signer, pub := ecKey(t)
	other, _ := edKey(t)
	_, edPub := edKey(t)
	keys := []PublicKey{pub, edPub}

	d1, err := f.Push(ctx, module("one"), ref("plugins/p:stable"), signer)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("signed", func(t *testing.T) {
		m, err := f.Fetch(ctx, Request{Source: ref("plugins/p:stable"), Pull: PullAlways, Signatures: SignaturesRequire, Keys: keys})
		if err != nil || m.Digest != d1 || m.SignedBy != pub.ID || !bytes.Equal(m.Wasm, module("one")) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		if _, err := f.Push(ctx, module("unsigned"), ref("plugins/p:unsigned"), nil); err != nil {
			t.Fatal(err)
		}
		_, err := f.Fetch(ctx, Request{Source: ref("plugins/p:unsigned"), Signatures: SignaturesRequire, Keys: keys})
		if !errors.Is(err, ErrUnsigned) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("badly signed", func(t *testing.T) {
		if _, err := f.Push(ctx, module("bad"), ref("plugins/p:bad"), other); err != nil {
			t.Fatal(err)
		}
		_, err := f.Fetch(ctx, Request{Source: ref("plugins/p:bad"), Signatures: SignaturesRequire, Keys: keys})
		if !errors.Is(err, ErrBadSignature) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("wrong digest", func(t *testing.T) {
		_, err := f.Fetch(ctx, Request{Source: ref("plugins/p:stable"), SHA256: strings.Repeat("c", 64)})
		if !errors.Is(err, ErrDigest) {
			t.Fatalf("pinned: got %v", err)
		}
		_, err = f.Fetch(ctx, Request{Source: ref("plugins/p@sha256:" + strings.Repeat("c", 64))})
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown digest: got %v", err)
		}
	})
	t.Run("several layers", func(t *testing.T) {
		pushRaw(t, f, ref("plugins/p:two"), WasmConfigMediaType,
			static.NewLayer(module("a"), WasmLayerMediaType), static.NewLayer(module("b"), WasmLayerMediaType))
		if _, err := f.Fetch(ctx, Request{Source: ref("plugins/p:two")}); !errors.Is(err, ErrFormat) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("huge layer", func(t *testing.T) {
		pushRaw(t, f, ref("plugins/p:huge"), WasmConfigMediaType, static.NewLayer(append(module("h"), make([]byte, 1<<17)...), WasmLayerMediaType))
		if _, err := f.Fetch(ctx, Request{Source: ref("plugins/p:huge")}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("tag moved", func(t *testing.T) {
		d2, err := f.Push(ctx, module("two"), ref("plugins/p:stable"), signer)
		if err != nil {
			t.Fatal(err)
		}
		m, err := f.Fetch(ctx, Request{Source: ref("plugins/p:stable"), Signatures: SignaturesRequire, Keys: keys})
		if err != nil || m.Digest != d1 {
			t.Fatalf("IfNotPresent: %v, digest %s, want the cached %s", err, m.Digest, d1)
		}
		m, err = f.Fetch(ctx, Request{Source: ref("plugins/p:stable"), Pull: PullAlways, Signatures: SignaturesRequire, Keys: keys})
		if err != nil || m.Digest != d2 {
			t.Fatalf("Always: %v", err)
		}
	})
	t.Run("registry down", func(t *testing.T) {
		stop()
		_, err := f.Fetch(ctx, Request{Source: ref("plugins/p:stable"), Pull: PullAlways})
		if !errors.Is(err, ErrNetwork) {
			t.Fatalf("Always: got %v", err)
		}
		if _, err := f.Fetch(ctx, Request{Source: ref("plugins/p:stable"), Signatures: SignaturesRequire, Keys: keys}); err != nil {
			t.Fatalf("IfNotPresent from the cache: %v", err)
		}
	})
}
