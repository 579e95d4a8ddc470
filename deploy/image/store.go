package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// RefNameAnnotation tags an image in an OCI layout's index.json (the name
// skopeo, podman and containerd import it under).
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// WriteLayout writes img into the OCI image layout at dir (created if
// missing) under tag, replacing an image of the same tag there; other
// images in the layout stay.
func WriteLayout(dir, tag string, img v1.Image) error {
	if tag == "" {
		return errors.New("image: layout: empty tag")
	}
	p, err := layout.FromPath(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("image: layout: %w", err)
		}
		p, err = layout.Write(dir, empty.Index)
	}
	if err != nil {
		return fmt.Errorf("image: layout %s: %w", dir, err)
	}
	anns := map[string]string{RefNameAnnotation: tag}
	if err := p.ReplaceImage(img, match.Annotation(RefNameAnnotation, tag), layout.WithAnnotations(anns)); err != nil {
		return fmt.Errorf("image: layout %s: %w", dir, err)
	}
	return nil
}

// ReadLayout returns the image tagged tag in the OCI layout at dir.
func ReadLayout(dir, tag string) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("image: layout %s: %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("image: layout %s: %w", dir, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("image: layout %s: %w", dir, err)
	}
	for _, d := range m.Manifests {
		if d.Annotations[RefNameAnnotation] == tag {
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("image: layout %s: %s: %w", dir, tag, err)
			}
			return img, nil
		}
	}
	return nil, fmt.Errorf("image: layout %s: no image tagged %q", dir, tag)
}

// Registry options for Push and Pull.
type Registry struct {
	// Insecure allows plain HTTP to any registry. Without it, only a
	// loopback registry (localhost, 127.0.0.0/8, ::1) is spoken to in plain
	// HTTP; every other one over TLS.
	Insecure bool
}

func (r Registry) options(ctx context.Context) []remote.Option {
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	if !r.Insecure {
		opts = append(opts, remote.WithTransport(tlsOnly{remote.DefaultTransport}))
	}
	return opts
}

// tlsOnly refuses plain-HTTP requests to a registry not on loopback:
// go-containerregistry also tries HTTP beside HTTPS for private (RFC 1918)
// and .local registries, where credentials and images would cross the
// network in clear.
type tlsOnly struct{ next http.RoundTripper }

func (t tlsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !loopback(req.URL.Hostname()) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("plain HTTP to registry %s refused: it is not on loopback (Registry.Insecure, mkimage --insecure, allows it)", req.URL.Host)
	}
	return t.next.RoundTrip(req)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (r Registry) parse(ref string) (name.Reference, error) {
	var opts []name.Option
	if r.Insecure {
		opts = append(opts, name.Insecure)
	}
	n, err := name.ParseReference(ref, append(opts, name.StrictValidation)...)
	if err != nil {
		return nil, fmt.Errorf("image: reference %q: %w", ref, err)
	}
	return n, nil
}

// Push uploads img to ref (REGISTRY/REPO:TAG), with credentials from the
// docker config file ($DOCKER_CONFIG, ~/.docker/config.json) if any, and
// returns the pushed manifest's digest.
func (r Registry) Push(ctx context.Context, ref string, img v1.Image) (v1.Hash, error) {
	n, err := r.parse(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.Write(n, img, r.options(ctx)...); err != nil {
		return v1.Hash{}, fmt.Errorf("image: push %s: %w", n, err)
	}
	d, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("image: push %s: %w", n, err)
	}
	return d, nil
}

// Pull returns the image at ref (tag or digest).
func (r Registry) Pull(ctx context.Context, ref string) (v1.Image, error) {
	n, err := r.parse(ref)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(n, r.options(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("image: pull %s: %w", n, err)
	}
	return img, nil
}
