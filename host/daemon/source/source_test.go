package source

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// module is a minimal valid wasm module, made distinct by a custom section.
func module(tag string) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	sec := append([]byte{byte(len("t"))}, 't')
	sec = append(sec, tag...)
	b = append(b, 0, byte(len(sec)))
	return append(b, sec...)
}

// testRegistry is an in-process registry on loopback that records the
// paths it was asked for; wrap, when set, may replace its answers.
type testRegistry struct {
	srv  *httptest.Server
	host string
	mu   sync.Mutex
	reqs []string
	wrap func(w http.ResponseWriter, r *http.Request, next http.Handler) bool
}

func newRegistry(t *testing.T) *testRegistry {
	t.Helper()
	tr := &testRegistry{}
	h := registry.New(registry.Logger(log0()))
	tr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		tr.reqs = append(tr.reqs, r.Method+" "+r.URL.Path)
		wrap := tr.wrap
		tr.mu.Unlock()
		if wrap != nil && wrap(w, r, h) {
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(tr.srv.Close)
	tr.host = strings.TrimPrefix(tr.srv.URL, "http://")
	return tr
}

func (tr *testRegistry) requested(sub string) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, r := range tr.reqs {
		if strings.Contains(r, sub) {
			return true
		}
	}
	return false
}

func (tr *testRegistry) reset() {
	tr.mu.Lock()
	tr.reqs = nil
	tr.mu.Unlock()
}

func (tr *testRegistry) ref(repoTag string) string { return "oci://" + tr.host + "/" + repoTag }

func newFetcher(t *testing.T, o Options) *Fetcher {
	t.Helper()
	if o.Backoff == 0 {
		o.Backoff = time.Millisecond
	}
	f, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func ecKey(t *testing.T) (crypto.Signer, PublicKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k, pubOf(t, k.Public())
}

func edKey(t *testing.T) (crypto.Signer, PublicKey) {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k, pubOf(t, k.Public())
}

func pubOf(t *testing.T, k crypto.PublicKey) PublicKey {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPushFetchSigned(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []string{"ecdsa-p256", "ed25519"} {
		t.Run(kind, func(t *testing.T) {
			reg := newRegistry(t)
			f := newFetcher(t, Options{CacheDir: t.TempDir()})
			signer, pub := ecKey(t)
			if kind == "ed25519" {
				signer, pub = edKey(t)
			}
			wasm := module(kind)
			d, err := f.Push(ctx, wasm, reg.ref("plugins/pass:v1"), signer)
			if err != nil {
				t.Fatal(err)
			}
			if !reg.requested("/manifests/" + SignatureTag(d)) {
				t.Fatal("no signature manifest was pushed")
			}
			m, err := f.Fetch(ctx, Request{Source: reg.ref("plugins/pass:v1"), Signatures: SignaturesRequire, Keys: []PublicKey{pub}})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.Wasm, wasm) || m.Digest != d || m.SignedBy != pub.ID || m.Format != FormatWasm {
				t.Fatalf("got digest %s signed by %q format %s, want %s by %q", m.Digest, m.SignedBy, m.Format, d, pub.ID)
			}
			// By digest, pinned by sha256 too, from the cache.
			m, err = f.Fetch(ctx, Request{Source: reg.ref("plugins/pass@" + d), SHA256: d, Signatures: SignaturesRequire, Keys: []PublicKey{pub}})
			if err != nil || !m.Cached {
				t.Fatalf("by digest: %v (cached %v)", err, m != nil && m.Cached)
			}
		})
	}
}

func TestUnsigned(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	f := newFetcher(t, Options{})
	_, pub := ecKey(t)
	if _, err := f.Push(ctx, module("u"), reg.ref("p:v1"), nil); err != nil {
		t.Fatal(err)
	}
	src := reg.ref("p:v1")
	_, err := f.Fetch(ctx, Request{Source: src, Signatures: SignaturesRequire, Keys: []PublicKey{pub}})
	if !errors.Is(err, ErrUnsigned) {
		t.Fatalf("require: got %v, want ErrUnsigned", err)
	}
	m, err := f.Fetch(ctx, Request{Source: src, Signatures: SignaturesWarn, Keys: []PublicKey{pub}})
	if err != nil || !errors.Is(m.Unverified, ErrUnsigned) || m.SignedBy != "" {
		t.Fatalf("warn: got %v, unverified %v", err, m.Unverified)
	}
	if _, err := f.Fetch(ctx, Request{Source: src}); err != nil {
		t.Fatalf("off: %v", err)
	}
	if c := f.Counts(); c["signature"] != 1 {
		t.Fatalf("counts %v, want one signature failure", c)
	}
}

func TestBadlySigned(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	f := newFetcher(t, Options{})
	other, _ := ecKey(t)
	_, pub := ecKey(t)
	_, edPub := edKey(t)
	d, err := f.Push(ctx, module("b"), reg.ref("p:v1"), other)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Fetch(ctx, Request{Source: reg.ref("p:v1"), Signatures: SignaturesRequire, Keys: []PublicKey{pub, edPub}})
	if !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "no configured key verifies it") {
		t.Fatalf("got %v, want ErrBadSignature", err)
	}

	// A valid signature of another manifest, copied under this one's tag.
	signer, pub2 := ecKey(t)
	d2, err := f.Push(ctx, module("c"), reg.ref("p:v2"), signer)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := Parse(reg.ref("p:v1"))
	payload := Payload(ref.Registry+"/"+ref.Repository, d2)
	sig, _ := Sign(signer, payload)
	pushSigManifest(t, f, ref, d, payload, sig)
	_, err = f.Fetch(ctx, Request{Source: reg.ref("p:v1"), Signatures: SignaturesRequire, Keys: []PublicKey{pub2}})
	if !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "not this manifest") {
		t.Fatalf("replayed signature: got %v", err)
	}
	// A signature that is not base64 and one that is garbage.
	pushSigManifest(t, f, ref, d, Payload(ref.Registry+"/"+ref.Repository, d), "!!!")
	_, err = f.Fetch(ctx, Request{Source: reg.ref("p:v1"), Signatures: SignaturesRequire, Keys: []PublicKey{pub2}})
	if !errors.Is(err, ErrBadSignature) {
		t.Fatalf("garbage signature: got %v", err)
	}
}

// pushSigManifest replaces the signature manifest of d with one layer.
func pushSigManifest(t *testing.T, f *Fetcher, ref Ref, d string, payload []byte, sig string) {
	t.Helper()
	sigRef := ref
	sigRef.Tag, sigRef.Digest = SignatureTag(d), ""
	l := annotated{static.NewLayer(payload, SimpleSigningMediaType), map[string]string{SignatureAnnotation: sig}}
	cfg := static.NewLayer([]byte("{}"), types.OCIConfigJSON)
	man, err := manifestOf(cfg, types.OCIConfigJSON, nil, l)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.put(context.Background(), sigRef, man, cfg, l); err != nil {
		t.Fatal(err)
	}
}

// pushRaw pushes a manifest of the given layers (with their media types)
// and a config of cfgType.
func pushRaw(t *testing.T, f *Fetcher, dest string, cfgType types.MediaType, layers ...v1.Layer) string {
	t.Helper()
	ref, err := Parse(dest)
	if err != nil {
		t.Fatal(err)
	}
	cfg := static.NewLayer([]byte(`{"architecture":"wasm"}`), cfgType)
	man, err := manifestOf(cfg, cfgType, nil, layers...)
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.put(context.Background(), ref, man, append([]v1.Layer{cfg}, layers...)...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestWrongDigest(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	f := newFetcher(t, Options{})
	d, err := f.Push(ctx, module("w"), reg.ref("p:v1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	other := "sha256:" + strings.Repeat("ab", 32)
	_, err = f.Fetch(ctx, Request{Source: reg.ref("p:v1"), SHA256: other})
	if !errors.Is(err, ErrDigest) {
		t.Fatalf("pinned sha256: got %v, want ErrDigest", err)
	}
	_, err = f.Fetch(ctx, Request{Source: reg.ref("p@" + other)})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown digest: got %v, want ErrNotFound", err)
	}
	// A registry that serves other bytes than the layer's digest says.
	reg.wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if !strings.Contains(r.URL.Path, "/blobs/") || r.Method != http.MethodGet {
			return false
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		b := rec.Body.Bytes()
		if len(b) > 0 {
			b[len(b)-1] ^= 0xff
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(b)
		return true
	}
	_, err = f.Fetch(ctx, Request{Source: reg.ref("p@" + d)})
	if !errors.Is(err, ErrDigest) {
		t.Fatalf("corrupted layer: got %v, want ErrDigest", err)
	}
	// A manifest served for a digest it does not have.
	reg.wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if !strings.Contains(r.URL.Path, "/manifests/") {
			return false
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		b := append(rec.Body.Bytes(), ' ')
		w.Header().Set("Content-Type", rec.Header().Get("Content-Type"))
		w.Header().Set("Docker-Content-Digest", d)
		w.WriteHeader(rec.Code)
		w.Write(b)
		return true
	}
	f2 := newFetcher(t, Options{})
	_, err = f2.Fetch(ctx, Request{Source: reg.ref("p@" + d)})
	if err == nil {
		t.Fatal("a manifest with another digest was accepted")
	}
}

func TestTagMoved(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	f := newFetcher(t, Options{CacheDir: t.TempDir()})
	src := reg.ref("p:latest")
	d1, err := f.Push(ctx, module("one"), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := f.Fetch(ctx, Request{Source: src}); err != nil || m.Digest != d1 {
		t.Fatalf("first fetch: %v", err)
	}
	d2, err := f.Push(ctx, module("two"), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := f.Resolve(ctx, src); err != nil || d != d2 {
		t.Fatalf("Resolve: %s %v, want %s", d, err, d2)
	}
	m, err := f.Fetch(ctx, Request{Source: src, Pull: PullIfNotPresent})
	if err != nil || m.Digest != d1 || !m.Cached {
		t.Fatalf("IfNotPresent after the move: %v, digest %s, want the cached %s", err, m.Digest, d1)
	}
	m, err = f.Fetch(ctx, Request{Source: src, Pull: PullAlways})
	if err != nil || m.Digest != d2 || !bytes.Equal(m.Wasm, module("two")) {
		t.Fatalf("Always after the move: %v", err)
	}
	if cur, _ := f.Current(src); cur != d2 {
		t.Fatalf("Current %s, want %s", cur, d2)
	}
}

func TestRegistryDown(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	f := newFetcher(t, Options{CacheDir: t.TempDir(), Attempts: 3})
	signer, pub := edKey(t)
	src := reg.ref("p:v1")
	d, err := f.Push(ctx, module("down"), src, signer)
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Source: src, Signatures: SignaturesRequire, Keys: []PublicKey{pub}}
	if _, err := f.Fetch(ctx, req); err != nil {
		t.Fatal(err)
	}
	reg.srv.Close()
	// The cache still serves what it verified, signatures included.
	m, err := f.Fetch(ctx, req)
	if err != nil || !m.Cached || m.Digest != d || m.SignedBy == "" {
		t.Fatalf("IfNotPresent with the registry down: %v", err)
	}
	req.Pull = PullAlways
	_, err = f.Fetch(ctx, req)
	if !errors.Is(err, ErrNetwork) || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("Always with the registry down: got %v", err)
	}
	if _, err := f.Resolve(ctx, src); !errors.Is(err, ErrNetwork) {
		t.Fatalf("Resolve: %v", err)
	}
	if c := f.Counts(); c["network"] != 2 || c["cached"] != 1 || c["ok"] != 1 {
		t.Fatalf("counts %v", c)
	}
}

func TestHugeLayer(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	f := newFetcher(t, Options{MaxSize: 1 << 10})
	big := append(module("big"), make([]byte, 4<<10)...)
	l := static.NewLayer(big, WasmLayerMediaType)
	pushRaw(t, f, reg.ref("p:huge"), WasmConfigMediaType, l)
	ld, _ := l.Digest()
	reg.reset()
	_, err := f.Fetch(ctx, Request{Source: reg.ref("p:huge")})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	if reg.requested("/blobs/" + ld.String()) {
		t.Fatal("the layer was requested although its descriptor was too large")
	}
	// A layer whose descriptor lies about its size: cut off at the declared size.
	real := static.NewLayer(module("s"), WasmLayerMediaType)
	cfg := static.NewLayer([]byte(`{}`), WasmConfigMediaType)
	man, err := manifestOf(cfg, WasmConfigMediaType, nil, &sizedLayer{Layer: real, size: 4})
	if err != nil {
		t.Fatal(err)
	}
	liar, _ := Parse(reg.ref("p:liar"))
	d, err := f.put(ctx, liar, man, cfg, real)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Fetch(ctx, Request{Source: reg.ref("p@" + d)})
	if !errors.Is(err, ErrDigest) || !strings.Contains(err.Error(), "declared 4 bytes") {
		t.Fatalf("lying size: got %v", err)
	}
	// A manifest of more than maxManifest bytes: cut off while it is read.
	bigMan := []byte(`{"schemaVersion":2,"annotations":{"x":"` + strings.Repeat("x", maxManifest+10) + `"}}`)
	bigDigest := "sha256:" + hexSHA(bigMan)
	reg.wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if !strings.HasSuffix(r.URL.Path, "/manifests/"+bigDigest) {
			return false
		}
		w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
		w.Header().Set("Docker-Content-Digest", bigDigest)
		w.Write(bigMan)
		return true
	}
	_, err = f.Fetch(ctx, Request{Source: reg.ref("p@" + bigDigest)})
	reg.wrap = nil
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "manifest larger") {
		t.Fatalf("huge manifest: got %v", err)
	}
	// A gzip bomb in an image layer: plugin.wasm larger than the limit.
	tgz := tarGz(t, map[string][]byte{ImagePluginFile: make([]byte, 8<<10)})
	pushRaw(t, f, reg.ref("p:bomb"), types.OCIConfigJSON, static.NewLayer(tgz, types.OCILayer))
	if _, err = f.Fetch(ctx, Request{Source: reg.ref("p:bomb")}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("image layer bomb: got %v", err)
	}
	// A bomb beside plugin.wasm: the other entry inflates past the budget.
	tgz = tarGz(t, map[string][]byte{"filler": make([]byte, 4<<20)})
	if len(tgz) > 1<<16 {
		t.Fatalf("filler compressed to %d bytes", len(tgz))
	}
	if _, err := extractPlugin(tgz, 1<<10); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "inflates") {
		t.Fatalf("filler bomb: got %v", err)
	}
}

// sizedLayer declares another size than its content's.
type sizedLayer struct {
	v1.Layer
	size int64
}

func (s *sizedLayer) Size() (int64, error) { return s.size, nil }

func TestSeveralLayers(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	f := newFetcher(t, Options{})
	pushRaw(t, f, reg.ref("p:two"), WasmConfigMediaType,
		static.NewLayer(module("a"), WasmLayerMediaType), static.NewLayer(module("b"), WasmLayerMediaType))
	_, err := f.Fetch(ctx, Request{Source: reg.ref("p:two")})
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "2 layers") {
		t.Fatalf("got %v, want ErrFormat naming 2 layers", err)
	}
	pushRaw(t, f, reg.ref("p:none"), WasmConfigMediaType)
	if _, err := f.Fetch(ctx, Request{Source: reg.ref("p:none")}); !errors.Is(err, ErrFormat) {
		t.Fatalf("no layer: got %v", err)
	}
	pushRaw(t, f, reg.ref("p:other"), WasmConfigMediaType, static.NewLayer([]byte("x"), "text/plain"))
	if _, err := f.Fetch(ctx, Request{Source: reg.ref("p:other")}); !errors.Is(err, ErrFormat) {
		t.Fatalf("unknown layer type: got %v", err)
	}
}

func TestIstioFormats(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	f := newFetcher(t, Options{})
	wasm := module("istio")
	for _, tc := range []struct {
		name, format string
		layer        v1.Layer
		cfg          types.MediaType
	}{
		{"oci-image", FormatImage, static.NewLayer(tarGz(t, map[string][]byte{"runtime-config.json": []byte("{}"), "plugin.wasm": wasm}), types.OCILayer), types.OCIConfigJSON},
		{"docker-image", FormatImage, static.NewLayer(tarGz(t, map[string][]byte{"./plugin.wasm": wasm}), types.DockerLayer), types.DockerConfigJSON},
		{"solo-artifact", FormatSoloWasm, static.NewLayer(wasm, SoloWasmLayerMediaType), "application/vnd.module.wasm.config.v1+json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pushRaw(t, f, reg.ref("p:"+tc.name), tc.cfg, tc.layer)
			m, err := f.Fetch(ctx, Request{Source: reg.ref("p:" + tc.name)})
			if err != nil || !bytes.Equal(m.Wasm, wasm) || m.Format != tc.format {
				t.Fatalf("got %v, format %v", err, m)
			}
		})
	}
	pushRaw(t, f, reg.ref("p:empty-image"), types.OCIConfigJSON, static.NewLayer(tarGz(t, map[string][]byte{"other.wasm": wasm}), types.OCILayer))
	if _, err := f.Fetch(ctx, Request{Source: reg.ref("p:empty-image")}); !errors.Is(err, ErrFormat) {
		t.Fatalf("image without plugin.wasm: got %v", err)
	}
}

func tarGz(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for n, b := range files {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestPlainHTTPGuard(t *testing.T) {
	for host, ok := range map[string]bool{
		"127.0.0.1:5000": true, "[::1]:5000": true, "localhost:5000": true, "127.0.0.2": true,
		"10.0.0.1:5000": false, "192.168.1.2": false, "registry.lab:5000": false, "lab.insecure": true,
	} {
		if got := plainAllowed(host, map[string]bool{"lab.insecure": true}); got != ok {
			t.Errorf("plainAllowed(%q) = %v, want %v", host, got, ok)
		}
	}
	// The guard refuses what the library would try over plain HTTP.
	f := newFetcher(t, Options{Attempts: 1, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return nil, fmt.Errorf("reached the network for %s", r.URL)
	})})
	_, err := f.Fetch(context.Background(), Request{Source: "oci://10.1.2.3:5000/p:v1", Pull: PullAlways})
	if err == nil || !strings.Contains(err.Error(), "reached the network for https://") || strings.Contains(err.Error(), "http://10.1.2.3") && !errors.Is(err, errPlainHTTP) {
		t.Fatalf("private address: got %v", err)
	}
	req, _ := http.NewRequest("GET", "http://10.1.2.3:5000/v2/", nil)
	if _, err := f.rt.RoundTrip(req); !errors.Is(err, errPlainHTTP) {
		t.Fatalf("guard: %v", err)
	}
}

// TestCAFile: a registry with a certificate from a private CA is reached
// over TLS with ca_file, and refused without it.
func TestCAFile(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewTLSServer(registry.New(registry.Logger(log0())))
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	// A name that is not loopback: only TLS is allowed to it.
	host := "localhost.tls.test" + srv.Listener.Addr().String()[strings.LastIndexByte(srv.Listener.Addr().String(), ':'):]
	dial := func(o Options) *Fetcher {
		f := newFetcher(t, o)
		tr := f.rt.(*guard).next.(*http.Transport)
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
		}
		tr.TLSClientConfig = tr.TLSClientConfig.Clone()
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{}
		}
		tr.TLSClientConfig.ServerName = "example.com" // httptest's certificate names it
		return f
	}
	f := dial(Options{CAFile: ca})
	src := "oci://" + host + "/p:v1"
	if _, err := f.Push(ctx, module("tls"), src, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fetch(ctx, Request{Source: src}); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(Options{Attempts: 1}).Fetch(ctx, Request{Source: src}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without ca_file: got %v", err)
	}
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not pem"), 0o600)
	if _, err := New(Options{CAFile: bad}); err == nil {
		t.Fatal("a ca_file without certificates was accepted")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestDockerConfigAuth(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	reg.wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if u, p, ok := r.BasicAuth(); ok && u == "alice" && p == "s3cret" {
			return false
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		return true
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	os.WriteFile(cfg, []byte(`{"auths":{"`+reg.host+`":{"auth":"`+auth+`"}}}`), 0o600)
	f := newFetcher(t, Options{DockerConfig: cfg})
	if _, err := f.Push(ctx, module("auth"), reg.ref("p:v1"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fetch(ctx, Request{Source: reg.ref("p:v1")}); err != nil {
		t.Fatal(err)
	}
	anon := newFetcher(t, Options{})
	if _, err := anon.Fetch(ctx, Request{Source: reg.ref("p:v1")}); err == nil || !strings.Contains(err.Error(), "401") && !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("anonymous: got %v, want 401", err)
	}
	if _, err := New(Options{DockerConfig: filepath.Join(dir, "missing.json")}); err == nil {
		t.Fatal("a missing docker config was accepted")
	}
}

func TestHTTPS(t *testing.T) {
	ctx := context.Background()
	wasm := module("https")
	signer, pub := ecKey(t)
	sig, _ := Sign(signer, wasm)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/p.wasm":
			w.Write(wasm)
		case "/p.wasm.sig":
			io.WriteString(w, sig)
		case "/big.wasm":
			w.Header().Set("Content-Length", "100000")
			w.Write(make([]byte, 100000))
		case "/chunked.wasm":
			for range 40 {
				w.Write(make([]byte, 1000))
				w.(http.Flusher).Flush()
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	f := newFetcher(t, Options{Transport: srv.Client().Transport, MaxSize: 10000, CacheDir: t.TempDir()})
	sum := hexSHA(wasm)
	_, err := f.Fetch(ctx, Request{Source: srv.URL + "/p.wasm"})
	if !errors.Is(err, ErrDigest) || !strings.Contains(err.Error(), "needs its sha256") {
		t.Fatalf("no sha256: %v", err)
	}
	if _, err := f.Fetch(ctx, Request{Source: srv.URL + "/p.wasm", SHA256: strings.Repeat("0", 64)}); !errors.Is(err, ErrDigest) {
		t.Fatalf("wrong sha256: %v", err)
	}
	m, err := f.Fetch(ctx, Request{Source: srv.URL + "/p.wasm", SHA256: "sha256:" + sum, Signatures: SignaturesRequire, Keys: []PublicKey{pub}, Signature: srv.URL + "/p.wasm.sig"})
	if err != nil || m.SignedBy != pub.ID {
		t.Fatalf("signed https: %v", err)
	}
	if _, err := f.Fetch(ctx, Request{Source: srv.URL + "/p.wasm", SHA256: sum, Signatures: SignaturesRequire, Keys: []PublicKey{pub}}); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("no signature: %v", err)
	}
	for _, p := range []string{"/big.wasm", "/chunked.wasm"} {
		if _, err := f.Fetch(ctx, Request{Source: srv.URL + p, SHA256: strings.Repeat("2", 64)}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%s: %v", p, err)
		}
	}
	if _, err := f.Fetch(ctx, Request{Source: srv.URL + "/missing.wasm", SHA256: strings.Repeat("1", 64)}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("404: %v", err)
	}
}

func TestFileSignature(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	wasm := module("file")
	p := filepath.Join(dir, "p.wasm")
	os.WriteFile(p, wasm, 0o644)
	signer, pub := edKey(t)
	sig, _ := Sign(signer, wasm)
	os.WriteFile(p+".sig", []byte(sig+"\n"), 0o644)
	f := newFetcher(t, Options{})
	m, err := f.Fetch(ctx, Request{Source: p, Signatures: SignaturesRequire, Keys: []PublicKey{pub}, Signature: p + ".sig"})
	if err != nil || m.SignedBy != pub.ID {
		t.Fatalf("signed file: %v", err)
	}
	os.WriteFile(p, append(wasm, 0), 0o644)
	if _, err := f.Fetch(ctx, Request{Source: p, Signatures: SignaturesRequire, Keys: []PublicKey{pub}, Signature: p + ".sig"}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("changed file: %v", err)
	}
}

func TestKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, blk *pem.Block) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, pem.EncodeToMemory(blk), 0o600)
		return p
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	priv := write("ec.key", &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	s, err := LoadPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pder, _ := x509.MarshalPKIXPublicKey(s.Public())
	pub, err := LoadPublicKey(write("ec.pub", &pem.Block{Type: "PUBLIC KEY", Bytes: pder}))
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := Sign(s, []byte("m"))
	if _, err := verifySignatures([]PublicKey{pub}, []signature{{payload: []byte("m"), b64: sig}}, nil); err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der384, _ := x509.MarshalPKIXPublicKey(p384.Public())
	for name, p := range map[string]string{
		"p384":      write("p384.pub", &pem.Block{Type: "PUBLIC KEY", Bytes: der384}),
		"encrypted": write("enc.key", &pem.Block{Type: "ENCRYPTED SIGSTORE PRIVATE KEY", Bytes: []byte("x")}),
		"garbage":   write("g.pub", &pem.Block{Type: "PUBLIC KEY", Bytes: []byte("x")}),
		"missing":   filepath.Join(dir, "nope"),
	} {
		if _, err := LoadPublicKey(p); err == nil {
			t.Errorf("%s: public key accepted", name)
		}
		if _, err := LoadPrivateKey(p); err == nil {
			t.Errorf("%s: private key accepted", name)
		}
	}
}

func TestParse(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	good := map[string]Ref{
		"oci://reg.io/a/b:v1":            {Kind: OCI, Registry: "reg.io", Repository: "a/b", Tag: "v1"},
		"oci://127.0.0.1:5000/p@" + d:    {Kind: OCI, Registry: "127.0.0.1:5000", Repository: "p", Digest: d},
		"oci://localhost:5000/a/b/c:x.y": {Kind: OCI, Registry: "localhost:5000", Repository: "a/b/c", Tag: "x.y"},
		"https://h.io/p.wasm":            {Kind: HTTPS, URL: "https://h.io/p.wasm"},
		"plugins/pass.wasm":              {Kind: File, Path: "plugins/pass.wasm"},
	}
	for s, want := range good {
		got, err := Parse(s)
		want.Raw = s
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	for _, s := range []string{
		"", "oci://reg.io/p", "oci://p:v1", "oci:///p:v1", "oci://reg.io/p:v1@" + d,
		"oci://reg.io/p@sha256:abc", "oci://reg.io/p@sha512:" + strings.Repeat("a", 128),
		"oci://reg.io/p@sha256:" + strings.Repeat("A", 64), "oci://reg.io/UPPER:v1",
		"https://", "https://u:p@h.io/p.wasm", "http://h.io/p.wasm", "ftp://x/y",
		"oci://reg.io/p:" + strings.Repeat("t", 200), strings.Repeat("x", MaxRefLen+1),
	} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"oci://reg.io/a/b:v1", "oci://127.0.0.1:5000/p@sha256:" + strings.Repeat("a", 64), "https://h/p", "x.wasm"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		if r.Kind == OCI && (r.Tag == "") == (r.Digest == "") {
			t.Fatalf("%q: tag %q digest %q", s, r.Tag, r.Digest)
		}
		if r.Kind == OCI {
			if _, err := Parse(r.WithDigest("sha256:" + strings.Repeat("0", 64)).Raw); err != nil {
				t.Fatalf("%q pinned: %v", s, err)
			}
		}
	})
}

// FuzzManifest feeds pickLayer hostile manifests: an error or one layer, never a panic.
func FuzzManifest(f *testing.F) {
	m, _ := json.Marshal(v1.Manifest{SchemaVersion: 2, Layers: []v1.Descriptor{{MediaType: WasmLayerMediaType, Size: 8, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}}}})
	f.Add(m)
	f.Add([]byte(`{"manifests":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, _, err := pickLayer(b)
		if err == nil && (l.Size < 0 || checkDigest(l.Digest.String()) != nil) {
			t.Fatalf("accepted layer %+v", l)
		}
	})
}

// FuzzExtract feeds extractPlugin hostile layers.
func FuzzExtract(f *testing.F) {
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := extractPlugin(b, 1<<16)
		if err == nil && int64(len(w)) > 1<<16 {
			t.Fatal("over the limit")
		}
	})
}

// FuzzVerify feeds the signature check hostile payloads and signatures:
// an error, never a panic, and never a verification without the key's
// own signature.
func FuzzVerify(f *testing.F) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	d := "sha256:" + strings.Repeat("a", 64)
	payload := Payload("reg.io/p", d)
	good, _ := Sign(priv, payload)
	f.Add(payload, good)
	f.Add([]byte(`{"critical":{"type":"cosign container image signature"}}`), "AAAA")
	pub := PublicKey{ID: "k", key: priv.Public()}
	f.Fuzz(func(t *testing.T, p []byte, sig string) {
		id, err := verifySignatures([]PublicKey{pub}, []signature{{payload: p, b64: sig}}, func(b []byte) error { return checkPayload(b, d) })
		if err == nil && (id != "k" || !bytes.Equal(p, payload) && checkPayload(p, d) != nil) {
			t.Fatalf("verified %q", p)
		}
	})
}
