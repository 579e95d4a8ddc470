package source

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Media types of the formats read.
const (
	// WasmConfigMediaType and WasmLayerMediaType are the CNCF wasm OCI artifact's.
	WasmConfigMediaType = "application/vnd.wasm.config.v0+json"
	WasmLayerMediaType  = "application/wasm"
	// SoloWasmLayerMediaType is the older wasm artifact layer Istio reads.
	SoloWasmLayerMediaType = "application/vnd.module.wasm.content.layer.v1+wasm"
	// ImagePluginFile is the file a single-layer image carries the module in.
	ImagePluginFile = "plugin.wasm"
)

// Formats a module was found in (Module.Format).
const (
	FormatWasm     = "wasm"         // a plain module (file, https, CNCF artifact layer)
	FormatSoloWasm = "solo-wasm"    // Istio's older wasm artifact layer
	FormatImage    = "image-tar-gz" // plugin.wasm in a single tar+gzip image layer
)

// opts are the registry library's options for one request.
func (f *Fetcher) remoteOpts(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(f.rt),
		remote.WithAuthFromKeychain(f.keychain),
		// Retries are this package's (retry), with its backoff and counting.
		remote.WithRetryPredicate(func(error) bool { return false }),
		remote.WithRetryStatusCodes(),
		remote.WithUserAgent("memif-wasm"),
	}
}

// nameRef is ref for the registry library, letting it try plain HTTP where
// the guard allows it.
func (f *Fetcher) nameRef(ref Ref) (name.Reference, error) {
	return ref.nameRef(plainAllowed(ref.Registry, f.insecure))
}

// classify wraps a registry library error with the package's sentinel.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%w: %v", ErrNotFound, err)
		case te.StatusCode >= 500 || te.StatusCode == http.StatusTooManyRequests:
			return fmt.Errorf("%w: %v", ErrNetwork, err)
		}
		for _, d := range te.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode || d.Code == transport.BlobUnknownErrorCode {
				return fmt.Errorf("%w: %v", ErrNotFound, err)
			}
		}
		return err
	}
	if errors.Is(err, errPlainHTTP) || errors.Is(err, context.Canceled) || errors.Is(err, ErrTooLarge) {
		return err
	}
	// Anything else below HTTP: refused connections, resets, DNS, timeouts.
	return fmt.Errorf("%w: %v", ErrNetwork, err)
}

// Resolve asks the registry which manifest digest an oci source names now
// (a tag's current digest), with retries. It fetches nothing else.
func (f *Fetcher) Resolve(ctx context.Context, source string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	ref, err := Parse(source)
	if err == nil && ref.Kind != OCI {
		err = fmt.Errorf("%w: not an oci source", ErrFormat)
	}
	var d string
	if err == nil {
		d, err = f.resolve(ctx, ref)
	}
	if err != nil {
		f.count(err, false)
		return "", fmt.Errorf("source %s: %w", source, err)
	}
	return d, nil
}

func (f *Fetcher) resolve(ctx context.Context, ref Ref) (string, error) {
	if ref.Digest != "" {
		return ref.Digest, nil
	}
	nr, err := f.nameRef(ref)
	if err != nil {
		return "", err
	}
	var d string
	err = f.retry(ctx, func() error {
		desc, err := remote.Head(nr, f.remoteOpts(ctx)...)
		if err != nil {
			return classify(err)
		}
		d = desc.Digest.String()
		return nil
	})
	if err != nil {
		return "", err
	}
	if err := checkDigest(d); err != nil {
		return "", fmt.Errorf("%w: registry answered %v", ErrDigest, err)
	}
	return d, nil
}

func (f *Fetcher) fetchOCI(ctx context.Context, ref Ref, want string, req Request) (*Module, error) {
	cached := true
	d := ref.Digest
	tagKey := hexSHA([]byte(ref.Registry + "/" + ref.Repository + ":" + ref.Tag))
	if d == "" && req.Pull == PullIfNotPresent {
		if b, ok := f.cacheGetRaw("tags", tagKey); ok && checkDigest(string(b)) == nil {
			d = string(b)
		}
	}
	if d == "" {
		var err error
		if d, err = f.resolve(ctx, ref); err != nil {
			return nil, err
		}
		cached = false
	}
	if want != "" && d != "sha256:"+want {
		return nil, fmt.Errorf("%w: manifest is %s, want sha256:%s", ErrDigest, d, want)
	}
	pinned := ref.WithDigest(d)
	raw, fromCache, err := f.manifest(ctx, pinned)
	if err != nil {
		return nil, err
	}
	cached = cached && fromCache
	layer, format, err := pickLayer(raw)
	if err != nil {
		return nil, err
	}
	if layer.Size > f.opts.MaxSize {
		return nil, fmt.Errorf("%w: layer %s is %d bytes, more than %d", ErrTooLarge, layer.Digest, layer.Size, f.opts.MaxSize)
	}
	blob, fromCache, err := f.blob(ctx, pinned, layer, f.opts.MaxSize)
	if err != nil {
		return nil, err
	}
	cached = cached && fromCache
	wasm := blob
	if format == FormatImage {
		if wasm, err = extractPlugin(blob, f.opts.MaxSize); err != nil {
			return nil, err
		}
	}
	m := &Module{Wasm: wasm, SHA256: hexSHA(wasm), Ref: pinned, Digest: d, Format: format, Cached: cached}
	if req.Signatures != SignaturesOff {
		sigs, fromCache, err := f.signatures(ctx, pinned, req.Pull == PullIfNotPresent)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("signatures: %w", err)
		}
		m.Cached = m.Cached && fromCache
		m.SignedBy, err = verifySignatures(req.Keys, sigs, func(p []byte) error { return checkPayload(p, d) })
		if err = policy(req.Signatures, m, err); err != nil {
			return nil, fmt.Errorf("%s: %w", pinned.Raw, err)
		}
	}
	if ref.Tag != "" {
		f.cachePutRaw("tags", tagKey, []byte(d))
	}
	f.mu.Lock()
	f.resolved[ref.Raw] = d
	f.mu.Unlock()
	return m, nil
}

// manifest returns the raw manifest ref (pinned by digest) names, from the
// cache or the registry, checked against the digest.
func (f *Fetcher) manifest(ctx context.Context, ref Ref) ([]byte, bool, error) {
	h := strings.TrimPrefix(ref.Digest, "sha256:")
	if b, ok := f.cacheGet("manifests", h); ok {
		return b, true, nil
	}
	nr, err := f.nameRef(ref)
	if err != nil {
		return nil, false, err
	}
	raw, err := f.getManifest(ctx, nr)
	if err != nil {
		return nil, false, err
	}
	if got := hexSHA(raw); got != h {
		return nil, false, fmt.Errorf("%w: manifest has digest sha256:%s, want %s", ErrDigest, got, ref.Digest)
	}
	f.cachePut("manifests", h, raw)
	return raw, false, nil
}

// pickLayer finds the one layer that carries the module.
func pickLayer(raw []byte) (v1.Descriptor, string, error) {
	var probe struct {
		MediaType string            `json:"mediaType"`
		Manifests []json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return v1.Descriptor{}, "", fmt.Errorf("%w: manifest: %v", ErrFormat, err)
	}
	if probe.Manifests != nil || types.MediaType(probe.MediaType).IsIndex() {
		return v1.Descriptor{}, "", fmt.Errorf("%w: an image index (%s); name one manifest by digest", ErrFormat, probe.MediaType)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, "", fmt.Errorf("%w: manifest: %v", ErrFormat, err)
	}
	if m.SchemaVersion != 2 {
		return v1.Descriptor{}, "", fmt.Errorf("%w: manifest schema version %d", ErrFormat, m.SchemaVersion)
	}
	if len(m.Layers) != 1 {
		return v1.Descriptor{}, "", fmt.Errorf("%w: manifest has %d layers; a plugin artifact has exactly one", ErrFormat, len(m.Layers))
	}
	l := m.Layers[0]
	if l.Size < 0 {
		return v1.Descriptor{}, "", fmt.Errorf("%w: layer size %d", ErrFormat, l.Size)
	}
	if err := checkDigest(l.Digest.String()); err != nil {
		return v1.Descriptor{}, "", fmt.Errorf("%w: layer %v", ErrFormat, err)
	}
	switch l.MediaType {
	case WasmLayerMediaType:
		return l, FormatWasm, nil
	case SoloWasmLayerMediaType:
		return l, FormatSoloWasm, nil
	case types.OCILayer, types.DockerLayer:
		return l, FormatImage, nil
	}
	return v1.Descriptor{}, "", fmt.Errorf("%w: layer media type %q (want %s, %s or a tar+gzip image layer)", ErrFormat, l.MediaType, WasmLayerMediaType, SoloWasmLayerMediaType)
}

// blob returns the layer's bytes, from the cache or the registry, reading
// at most its declared size (itself at most limit) and checking its digest.
func (f *Fetcher) blob(ctx context.Context, ref Ref, l v1.Descriptor, limit int64) ([]byte, bool, error) {
	h := l.Digest.Hex
	if b, ok := f.cacheGet("blobs", h); ok && int64(len(b)) == l.Size {
		return b, true, nil
	}
	nr, err := f.nameRef(ref)
	if err != nil {
		return nil, false, err
	}
	var b []byte
	err = f.retry(ctx, func() error {
		rl, err := remote.Layer(nr.Context().Digest(l.Digest.String()), f.remoteOpts(ctx)...)
		if err != nil {
			return classify(err)
		}
		rc, err := rl.Compressed()
		if err != nil {
			return classify(err)
		}
		defer rc.Close()
		b, err = io.ReadAll(io.LimitReader(rc, min(l.Size, limit)+1))
		if err != nil && int64(len(b)) <= l.Size {
			// The library's reader fails at EOF on a digest mismatch; say
			// which, unless the length is wrong anyway.
			if msg := err.Error(); strings.Contains(msg, "checksum") || strings.Contains(msg, "digest") {
				return fmt.Errorf("%w: layer %s: %v", ErrDigest, l.Digest, err)
			}
			return classify(err)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if int64(len(b)) != l.Size {
		return nil, false, fmt.Errorf("%w: layer %s declared %d bytes, registry sent %s", ErrDigest, l.Digest, l.Size, sent(len(b), l.Size))
	}
	if got := hexSHA(b); got != h {
		return nil, false, fmt.Errorf("%w: layer has digest sha256:%s, manifest says %s", ErrDigest, got, l.Digest)
	}
	f.cachePut("blobs", h, b)
	return b, false, nil
}

func sent(n int, declared int64) string {
	if int64(n) > declared {
		return "more"
	}
	return fmt.Sprint(n)
}

// extractPlugin returns plugin.wasm from a tar+gzip layer, reading at most
// limit bytes of it and refusing a layer that holds it more than once.
func extractPlugin(layer []byte, limit int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(layer))
	if err != nil {
		return nil, fmt.Errorf("%w: image layer: %v", ErrFormat, err)
	}
	// Skipping other entries decompresses them too: bound the whole
	// stream, not just plugin.wasm, or a small layer could make the host
	// inflate gigabytes.
	budget := limit + 1<<20
	lr := &io.LimitedReader{R: zr, N: budget + 1}
	tr := tar.NewReader(lr)
	var wasm []byte
	for {
		h, err := tr.Next()
		if lr.N <= 0 {
			return nil, fmt.Errorf("%w: image layer inflates to more than %d bytes", ErrTooLarge, budget)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: image layer: %v", ErrFormat, err)
		}
		if strings.TrimPrefix(h.Name, "./") != ImagePluginFile || h.Typeflag != tar.TypeReg {
			continue
		}
		if wasm != nil {
			return nil, fmt.Errorf("%w: image layer holds %s twice", ErrFormat, ImagePluginFile)
		}
		if h.Size > limit {
			return nil, fmt.Errorf("%w: %s is %d bytes, more than %d", ErrTooLarge, ImagePluginFile, h.Size, limit)
		}
		if wasm, err = io.ReadAll(io.LimitReader(tr, h.Size)); err != nil {
			if lr.N <= 0 {
				return nil, fmt.Errorf("%w: image layer inflates to more than %d bytes", ErrTooLarge, budget)
			}
			return nil, fmt.Errorf("%w: image layer: %v", ErrFormat, err)
		}
	}
	if wasm == nil {
		return nil, fmt.Errorf("%w: image layer has no %s", ErrFormat, ImagePluginFile)
	}
	return wasm, nil
}

// sigRecord is the cached form of the signatures found for a manifest.
type sigRecord struct {
	Payload []byte `json:"payload"`
	Sig     string `json:"signature"`
}

// signatures returns the cosign signatures stored for ref's manifest
// (tag sha256-HEX.sig), from the cache when useCache and it has them.
func (f *Fetcher) signatures(ctx context.Context, ref Ref, useCache bool) ([]signature, bool, error) {
	h := strings.TrimPrefix(ref.Digest, "sha256:")
	if useCache {
		if b, ok := f.cacheGetRaw("signatures", h); ok {
			var recs []sigRecord
			if json.Unmarshal(b, &recs) == nil && len(recs) > 0 {
				sigs := make([]signature, len(recs))
				for i, r := range recs {
					sigs[i] = signature{payload: r.Payload, b64: r.Sig}
				}
				return sigs, true, nil
			}
		}
	}
	sigRef := ref
	sigRef.Digest, sigRef.Tag = "", SignatureTag(ref.Digest)
	nr, err := f.nameRef(sigRef)
	if err != nil {
		return nil, false, err
	}
	raw, err := f.getManifest(ctx, nr)
	if err != nil {
		return nil, false, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, false, fmt.Errorf("%w: signature manifest: %v", ErrBadSignature, err)
	}
	var sigs []signature
	var recs []sigRecord
	for _, l := range m.Layers {
		if l.MediaType != SimpleSigningMediaType || l.Annotations[SignatureAnnotation] == "" {
			continue
		}
		if l.Size > maxPayload {
			continue
		}
		payload, _, err := f.blob(ctx, sigRef, l, maxPayload)
		if err != nil {
			return nil, false, err
		}
		s := signature{payload: payload, b64: l.Annotations[SignatureAnnotation]}
		sigs = append(sigs, s)
		recs = append(recs, sigRecord{Payload: s.payload, Sig: s.b64})
		if len(sigs) == 16 {
			break // enough to find the one a key verifies; no more work for a flood
		}
	}
	if b, err := json.Marshal(recs); err == nil && len(recs) > 0 {
		f.cachePutRaw("signatures", h, b)
	}
	return sigs, false, nil
}

// cacheGetRaw and cachePutRaw keep small records that are not addressed by
// their own digest (a tag's digest, a manifest's signatures).
func (f *Fetcher) cacheGetRaw(kind, key string) ([]byte, bool) {
	if f.opts.CacheDir == "" {
		return nil, false
	}
	b, err := readLimited(cachePath(f.opts.CacheDir, kind, key), maxManifest)
	return b, err == nil
}

func (f *Fetcher) cachePutRaw(kind, key string, b []byte) {
	if f.opts.CacheDir != "" {
		writeAtomic(cachePath(f.opts.CacheDir, kind, key), b)
	}
}

// getManifest reads the manifest nr names, with the retry policy, and
// refuses one larger than maxManifest.
func (f *Fetcher) getManifest(ctx context.Context, nr name.Reference) ([]byte, error) {
	var raw []byte
	err := f.retry(ctx, func() error {
		desc, err := remote.Get(nr, f.remoteOpts(ctx)...)
		if err != nil {
			return classify(err)
		}
		raw = desc.Manifest
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(raw) > maxManifest {
		return nil, fmt.Errorf("%w: manifest of %d bytes", ErrTooLarge, len(raw))
	}
	return raw, nil
}
