package source

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Defaults of Options.
const (
	// DefaultMaxSize bounds a module (and a layer holding one): the host's
	// largest default linear memory, 64 MiB; a plugin bigger than that is
	// not a packet plugin.
	DefaultMaxSize  = 64 << 20
	DefaultAttempts = 4
	DefaultBackoff  = 250 * time.Millisecond
	DefaultTimeout  = 2 * time.Minute
	// DialTimeout bounds one connection attempt of the default transport.
	DialTimeout = 5 * time.Second
	// maxManifest bounds a manifest or a signature payload: both are a few
	// hundred bytes to a few KiB.
	maxManifest = 4 << 20
	maxPayload  = 64 << 10
)

// Options configure a Fetcher. The zero value fetches over TLS only,
// anonymously, caches nothing on disk, and allows modules up to
// DefaultMaxSize.
type Options struct {
	// CacheDir holds verified manifests, layers and signatures by digest
	// (and the last digest seen for each tag). Empty: no disk cache.
	CacheDir string
	// DockerConfig is a docker config.json whose auths (or credential
	// helpers) give registry credentials. Empty: anonymous.
	DockerConfig string
	// Insecure lists registries (HOST or HOST:PORT) that may be reached
	// over plain HTTP. Loopback registries always may.
	Insecure []string
	// MaxSize bounds a module and the layer that carries it, in bytes. 0: DefaultMaxSize.
	MaxSize int64
	// Attempts is how often a network step is tried before the fetch fails. 0: DefaultAttempts.
	Attempts int
	// Backoff is the wait before the second attempt, doubled for each
	// further one. 0: DefaultBackoff.
	Backoff time.Duration
	// Timeout bounds one fetch, retries included. 0: DefaultTimeout.
	Timeout time.Duration
	// CAFile is a PEM bundle of certificate authorities trusted for
	// registries and https sources, in addition to the system's (a
	// registry with a private CA). Empty: the system's only.
	CAFile string
	// Transport carries the requests (tests, proxies). nil: a clone of
	// http.DefaultTransport (with CAFile). Plain HTTP is refused above it as
	// described.
	Transport http.RoundTripper
}

// PullPolicy says when a tag is resolved again.
type PullPolicy int

// Pull policies. The zero value is IfNotPresent.
const (
	// PullIfNotPresent uses what the cache has for the reference (a tag's
	// last digest, a digest's manifest and layer) and goes to the registry
	// only for what it lacks.
	PullIfNotPresent PullPolicy = iota
	// PullAlways resolves the tag at the registry on every fetch (layers
	// already cached by digest are not fetched again).
	PullAlways
)

// ParsePullPolicy reads "IfNotPresent" (or "") or "Always", as Kubernetes and Istio spell them.
func ParsePullPolicy(s string) (PullPolicy, error) {
	switch s {
	case "", "IfNotPresent":
		return PullIfNotPresent, nil
	case "Always":
		return PullAlways, nil
	}
	return 0, fmt.Errorf("pull policy %q: want IfNotPresent or Always", s)
}

func (p PullPolicy) String() string {
	if p == PullAlways {
		return "Always"
	}
	return "IfNotPresent"
}

// Request is one module to fetch.
type Request struct {
	// Source is a local path, oci:// reference or https:// URL (Parse).
	Source string
	// SHA256 pins the content: for a file or https source the module's
	// sha256, for an oci source the manifest's digest (as @sha256: would).
	// Hex, with or without "sha256:". Required for https.
	SHA256 string
	// Pull is the pull policy of a tag.
	Pull PullPolicy
	// Signatures is what a missing or bad signature does.
	Signatures SignaturePolicy
	// Keys verify signatures; at least one is needed to verify anything.
	Keys []PublicKey
	// Signature is the detached signature (cosign sign-blob's base64
	// output) of a file or https module: a local path or an https URL.
	Signature string
}

// Module is a fetched, verified module.
type Module struct {
	Wasm []byte
	// SHA256 is the hex sha256 of Wasm.
	SHA256 string
	// Ref is the source pinned: an oci reference by digest.
	Ref Ref
	// Digest is the manifest digest of an oci source.
	Digest string
	// Format names the layout the module was found in (FormatWasm...).
	Format string
	// SignedBy is the ID of the key that verified the module's signature;
	// empty when it was not verified.
	SignedBy string
	// Unverified, under SignaturesWarn, says why the signature did not verify.
	Unverified error
	// Cached reports that nothing was fetched over the network.
	Cached bool
}

// Errors a fetch may wrap (besides ErrUnsigned and ErrBadSignature).
var (
	ErrDigest   = errors.New("digest mismatch")
	ErrTooLarge = errors.New("too large")
	ErrFormat   = errors.New("not a wasm module artifact")
	ErrNetwork  = errors.New("registry unreachable")
	ErrNotFound = errors.New("not found")
)

// Fetcher fetches modules. It is safe for concurrent use.
type Fetcher struct {
	opts     Options
	rt       http.RoundTripper
	keychain authn.Keychain
	insecure map[string]bool

	mu       sync.Mutex
	counts   map[string]uint64
	resolved map[string]string // oci source as written -> manifest digest last fetched
}

// New checks opts and makes the cache directory.
func New(opts Options) (*Fetcher, error) {
	if opts.MaxSize < 0 || opts.Attempts < 0 || opts.Backoff < 0 || opts.Timeout < 0 {
		return nil, errors.New("source: negative limit in Options")
	}
	if opts.MaxSize == 0 {
		opts.MaxSize = DefaultMaxSize
	}
	if opts.Attempts == 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.Backoff == 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	f := &Fetcher{opts: opts, counts: map[string]uint64{}, resolved: map[string]string{}, insecure: map[string]bool{}}
	for _, h := range opts.Insecure {
		f.insecure[h] = true
	}
	next := opts.Transport
	if next == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// A registry that takes longer than this to accept a connection is
		// down; the default 30 s per attempt would hold a config change
		// (which fetches under the daemon's lock) for minutes.
		tr.DialContext = (&net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}).DialContext
		if opts.CAFile != "" {
			pool, err := loadCAs(opts.CAFile)
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		next = tr
	}
	f.rt = &guard{next: next, insecure: f.insecure}
	f.keychain = authn.NewMultiKeychain() // anonymous
	if opts.DockerConfig != "" {
		kc, err := newDockerKeychain(opts.DockerConfig)
		if err != nil {
			return nil, err
		}
		f.keychain = kc
	}
	if opts.CacheDir != "" {
		for _, d := range []string{"blobs", "manifests", "signatures", "tags"} {
			if err := os.MkdirAll(filepath.Join(opts.CacheDir, d), 0o700); err != nil {
				return nil, fmt.Errorf("source: cache: %w", err)
			}
		}
	}
	return f, nil
}

// Counts returns the fetches so far by result: "ok" (fetched), "cached"
// (nothing fetched), or the failure: "network", "not_found", "digest",
// "too_large", "format", "signature", "error".
func (f *Fetcher) Counts() map[string]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[string]uint64, len(f.counts))
	for k, v := range f.counts {
		m[k] = v
	}
	return m
}

// Current returns the manifest digest last fetched for an oci source as
// written, without any network request.
func (f *Fetcher) Current(source string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.resolved[source]
	return d, ok
}

func (f *Fetcher) count(err error, cached bool) {
	r := "ok"
	switch {
	case err == nil && cached:
		r = "cached"
	case err == nil:
	default:
		r = Result(err)
	}
	f.mu.Lock()
	f.counts[r]++
	f.mu.Unlock()
}

// Result names the class of a fetch error as Counts does.
func Result(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrNetwork):
		return "network"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrDigest):
		return "digest"
	case errors.Is(err, ErrTooLarge):
		return "too_large"
	case errors.Is(err, ErrFormat):
		return "format"
	case errors.Is(err, ErrUnsigned), errors.Is(err, ErrBadSignature):
		return "signature"
	}
	return "error"
}

// Fetch fetches, verifies and returns the module req names. Its errors
// name the source and wrap one of the package's sentinel errors.
func (f *Fetcher) Fetch(ctx context.Context, req Request) (*Module, error) {
	ctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	m, err := f.fetch(ctx, req)
	f.count(err, m != nil && m.Cached)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", req.Source, err)
	}
	return m, nil
}

func (f *Fetcher) fetch(ctx context.Context, req Request) (*Module, error) {
	ref, err := Parse(req.Source)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	want, err := normSHA(req.SHA256)
	if err != nil {
		return nil, err
	}
	var m *Module
	switch ref.Kind {
	case OCI:
		m, err = f.fetchOCI(ctx, ref, want, req)
	case HTTPS:
		if want == "" {
			return nil, fmt.Errorf("%w: an https source needs its sha256", ErrDigest)
		}
		m, err = f.fetchHTTPS(ctx, ref, want)
	default:
		m, err = f.readFile(ref, want)
	}
	if err != nil {
		return nil, err
	}
	if ref.Kind != OCI && req.Signatures != SignaturesOff {
		var sigs []signature
		if req.Signature != "" {
			b64, err := f.readSmall(ctx, req.Signature)
			if err != nil {
				return nil, fmt.Errorf("signature %s: %w", req.Signature, err)
			}
			sigs = append(sigs, signature{payload: m.Wasm, b64: string(b64)})
		}
		m.SignedBy, err = verifySignatures(req.Keys, sigs, nil)
		if err = policy(req.Signatures, m, err); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// policy applies a signature policy to a verification's outcome.
func policy(p SignaturePolicy, m *Module, err error) error {
	if err == nil || p == SignaturesOff {
		return nil
	}
	if p == SignaturesWarn {
		m.Unverified = err
		return nil
	}
	return err
}

// normSHA returns s as 64 hex digits, or "".
func normSHA(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	h := strings.TrimPrefix(s, "sha256:")
	if err := checkDigest("sha256:" + h); err != nil {
		return "", fmt.Errorf("%w: sha256 %v", ErrDigest, err)
	}
	return h, nil
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (f *Fetcher) readFile(ref Ref, want string) (*Module, error) {
	b, err := readLimited(ref.Path, f.opts.MaxSize)
	if err != nil {
		if strings.Contains(err.Error(), "more than") {
			return nil, fmt.Errorf("%w: %v", ErrTooLarge, err)
		}
		return nil, err
	}
	sum := hexSHA(b)
	if want != "" && sum != want {
		return nil, fmt.Errorf("%w: file has sha256 %s, want %s", ErrDigest, sum, want)
	}
	return &Module{Wasm: b, SHA256: sum, Ref: ref, Format: FormatWasm, Cached: true}, nil
}

func (f *Fetcher) fetchHTTPS(ctx context.Context, ref Ref, want string) (*Module, error) {
	if b, ok := f.cacheGet("blobs", want); ok {
		return &Module{Wasm: b, SHA256: want, Ref: ref, Format: FormatWasm, Cached: true}, nil
	}
	var b []byte
	err := f.retry(ctx, func() (err error) {
		b, err = f.get(ctx, ref.URL, f.opts.MaxSize)
		return err
	})
	if err != nil {
		return nil, err
	}
	if sum := hexSHA(b); sum != want {
		return nil, fmt.Errorf("%w: %s has sha256 %s, want %s", ErrDigest, ref.URL, sum, want)
	}
	f.cachePut("blobs", want, b)
	return &Module{Wasm: b, SHA256: want, Ref: ref, Format: FormatWasm}, nil
}

// get fetches an https URL whole, refusing a body of more than limit bytes
// from its Content-Length before reading it, and cutting it off otherwise.
func (f *Fetcher) get(ctx context.Context, url string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Transport: f.rt}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNetwork, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w: %s: %s", ErrNotFound, url, resp.Status)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, fmt.Errorf("%w: %s: %s", ErrNetwork, url, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than %d", ErrTooLarge, url, resp.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNetwork, url, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s is more than %d bytes", ErrTooLarge, url, limit)
	}
	return b, nil
}

// readSmall reads a detached signature from a path or an https URL.
func (f *Fetcher) readSmall(ctx context.Context, where string) ([]byte, error) {
	if strings.HasPrefix(where, "https://") {
		var b []byte
		err := f.retry(ctx, func() (err error) {
			b, err = f.get(ctx, where, maxPayload)
			return err
		})
		return b, err
	}
	return readLimited(where, maxPayload)
}

// retry runs step until it succeeds, fails other than by ErrNetwork, or
// Attempts run out, waiting Backoff, then twice that, and so on between
// tries.
func (f *Fetcher) retry(ctx context.Context, step func() error) error {
	wait := f.opts.Backoff
	var err error
	for i := 0; i < f.opts.Attempts; i++ {
		if i > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("%w (%v; gave up after %d attempts)", err, ctx.Err(), i)
			case <-t.C:
			}
			wait *= 2
		}
		if err = step(); err == nil || !errors.Is(err, ErrNetwork) {
			return err
		}
	}
	return fmt.Errorf("%w (after %d attempts)", err, f.opts.Attempts)
}

// cacheGet returns the cached object kind/hexDigest if it is there and its
// content still has that digest (a corrupted file is removed).
func (f *Fetcher) cacheGet(kind, h string) ([]byte, bool) {
	if f.opts.CacheDir == "" {
		return nil, false
	}
	p := filepath.Join(f.opts.CacheDir, kind, h)
	b, err := readLimited(p, f.opts.MaxSize+maxManifest)
	if err != nil {
		return nil, false
	}
	if hexSHA(b) != h {
		os.Remove(p)
		return nil, false
	}
	return b, true
}

// cachePut stores b (whose sha256 is h) atomically; a failure only means
// the next fetch goes to the network again.
func (f *Fetcher) cachePut(kind, h string, b []byte) {
	if f.opts.CacheDir == "" {
		return
	}
	writeAtomic(filepath.Join(f.opts.CacheDir, kind, h), b)
}

func writeAtomic(p string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// loadCAs is the system's certificate pool plus the PEM certificates in path.
func loadCAs(path string) (*x509.CertPool, error) {
	b, err := readLimited(path, maxManifest)
	if err != nil {
		return nil, fmt.Errorf("source: ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("source: ca_file %s: no PEM certificate in it", path)
	}
	return pool, nil
}
