package source

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// rawManifest is a manifest pushed as the exact bytes given.
type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.b, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// wasmConfig is the config blob of a CNCF wasm artifact.
type wasmConfig struct {
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	LayerDigests []string `json:"layerDigests"`
}

// Push publishes wasm as a CNCF wasm artifact at dest (oci://REGISTRY/REPO:TAG)
// and returns its manifest digest. With a signer it also signs the
// manifest as cosign does (Sign, SignatureTag), adding to the signatures
// already there.
func (f *Fetcher) Push(ctx context.Context, wasm []byte, dest string, signer crypto.Signer) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	ref, err := Parse(dest)
	if err != nil {
		return "", err
	}
	if ref.Kind != OCI || ref.Tag == "" {
		return "", fmt.Errorf("push %s: want oci://REGISTRY/REPO:TAG", dest)
	}
	if int64(len(wasm)) > f.opts.MaxSize {
		return "", fmt.Errorf("push %s: %w: module is %d bytes, more than %d", dest, ErrTooLarge, len(wasm), f.opts.MaxSize)
	}
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], []byte("\x00asm")) {
		return "", fmt.Errorf("push %s: %w: the file is not a wasm module", dest, ErrFormat)
	}
	layer := static.NewLayer(wasm, WasmLayerMediaType)
	ld, _ := layer.Digest()
	cfgBytes, _ := json.Marshal(wasmConfig{Architecture: "wasm", OS: "wasip1", LayerDigests: []string{ld.String()}})
	cfg := static.NewLayer(cfgBytes, WasmConfigMediaType)
	man, err := manifestOf(cfg, WasmConfigMediaType, map[string]string{"org.opencontainers.image.title": ref.BaseName() + ".wasm"}, layer)
	if err != nil {
		return "", err
	}
	d, err := f.put(ctx, ref, man, cfg, layer)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", dest, err)
	}
	if signer != nil {
		if err := f.sign(ctx, ref, d, signer); err != nil {
			return d, fmt.Errorf("push %s: pushed as %s but not signed: %w", dest, d, err)
		}
	}
	return d, nil
}

// manifestOf is an OCI image manifest of config and layers.
func manifestOf(cfg v1.Layer, cfgType types.MediaType, ann map[string]string, layers ...v1.Layer) ([]byte, error) {
	desc := func(l v1.Layer, mt types.MediaType) (v1.Descriptor, error) {
		d, err := l.Digest()
		if err != nil {
			return v1.Descriptor{}, err
		}
		n, err := l.Size()
		if err != nil {
			return v1.Descriptor{}, err
		}
		if mt == "" {
			if mt, err = l.MediaType(); err != nil {
				return v1.Descriptor{}, err
			}
		}
		return v1.Descriptor{MediaType: mt, Size: n, Digest: d}, nil
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Annotations: ann}
	var err error
	if m.Config, err = desc(cfg, cfgType); err != nil {
		return nil, err
	}
	for _, l := range layers {
		ld, err := desc(l, "")
		if err != nil {
			return nil, err
		}
		if a, ok := l.(annotated); ok {
			ld.Annotations = a.ann
		}
		m.Layers = append(m.Layers, ld)
	}
	return json.Marshal(m)
}

// annotated is a layer whose descriptor carries annotations.
type annotated struct {
	v1.Layer
	ann map[string]string
}

// put uploads the blobs, then the manifest at ref's tag, and returns the
// manifest's digest.
func (f *Fetcher) put(ctx context.Context, ref Ref, man []byte, blobs ...v1.Layer) (string, error) {
	nr, err := f.nameRef(ref)
	if err != nil {
		return "", err
	}
	for _, b := range blobs {
		err := f.retry(ctx, func() error {
			return classify(remote.WriteLayer(nr.Context(), b, f.remoteOpts(ctx)...))
		})
		if err != nil {
			return "", err
		}
	}
	err = f.retry(ctx, func() error {
		return classify(remote.Put(nr, rawManifest{man, types.OCIManifestSchema1}, f.remoteOpts(ctx)...))
	})
	if err != nil {
		return "", err
	}
	return "sha256:" + hexSHA(man), nil
}

// sign adds a cosign signature of manifest d to ref's repository.
func (f *Fetcher) sign(ctx context.Context, ref Ref, d string, signer crypto.Signer) error {
	payload := Payload(ref.Registry+"/"+ref.Repository, d)
	sig, err := Sign(signer, payload)
	if err != nil {
		return err
	}
	sigRef := ref
	sigRef.Digest, sigRef.Tag = "", SignatureTag(d)
	var layers []v1.Layer
	// Keep the signatures already there (another key's), as cosign does.
	old, _, err := f.signatureLayers(ctx, sigRef)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	layers = append(layers, old...)
	layers = append(layers, annotated{static.NewLayer(payload, SimpleSigningMediaType), map[string]string{SignatureAnnotation: sig}})
	var diffIDs []v1.Hash
	for _, l := range layers {
		h, _ := l.Digest()
		diffIDs = append(diffIDs, h)
	}
	cfgBytes, _ := json.Marshal(v1.ConfigFile{RootFS: v1.RootFS{Type: "layers", DiffIDs: diffIDs}})
	cfg := static.NewLayer(cfgBytes, types.OCIConfigJSON)
	man, err := manifestOf(cfg, types.OCIConfigJSON, nil, layers...)
	if err != nil {
		return err
	}
	_, err = f.put(ctx, sigRef, man, append([]v1.Layer{cfg}, layers...)...)
	return err
}

// signatureLayers returns the simple-signing layers of the signature
// manifest at sigRef, with their annotations.
func (f *Fetcher) signatureLayers(ctx context.Context, sigRef Ref) ([]v1.Layer, bool, error) {
	nr, err := f.nameRef(sigRef)
	if err != nil {
		return nil, false, err
	}
	desc, err := remote.Get(nr, f.remoteOpts(ctx)...)
	if err != nil {
		return nil, false, classify(err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return nil, false, fmt.Errorf("%w: signature manifest: %v", ErrFormat, err)
	}
	var out []v1.Layer
	for _, l := range m.Layers {
		if l.MediaType != SimpleSigningMediaType || l.Size > maxPayload {
			continue
		}
		b, _, err := f.blob(ctx, sigRef, l, maxPayload)
		if err != nil {
			return nil, false, err
		}
		out = append(out, annotated{static.NewLayer(b, SimpleSigningMediaType), l.Annotations})
	}
	return out, true, nil
}
