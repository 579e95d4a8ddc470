package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/google/go-containerregistry/pkg/authn"
)

var errPlainHTTP = errors.New("plain HTTP refused")

// guard refuses plain-HTTP requests to hosts that are neither loopback nor
// listed as insecure, whatever the registry library would try (it falls
// back to HTTP for private address ranges, for one).
type guard struct {
	next     http.RoundTripper
	insecure map[string]bool
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !plainAllowed(req.URL.Host, g.insecure) {
		return nil, fmt.Errorf("%w: %s://%s is neither loopback nor listed as an insecure registry", errPlainHTTP, req.URL.Scheme, req.URL.Host)
	}
	resp, err := g.next.RoundTrip(req)
	if err == nil && strings.Contains(req.URL.Path, "/manifests/") {
		// The library would read up to 100 MiB of a manifest; a plugin's
		// is a few hundred bytes.
		resp.Body = &capped{rc: resp.Body, left: maxManifest}
	}
	return resp, err
}

// capped fails a body that runs past its limit.
type capped struct {
	rc   io.ReadCloser
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("%w: manifest larger than %d bytes", ErrTooLarge, maxManifest)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.rc.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *capped) Close() error { return c.rc.Close() }

// plainAllowed reports whether host (HOST or HOST:PORT) may be reached over
// plain HTTP: a loopback address, "localhost", or listed in insecure by
// HOST:PORT or HOST.
func plainAllowed(host string, insecure map[string]bool) bool {
	if insecure[host] {
		return true
	}
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	if insecure[h] || h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// dockerKeychain gives the credentials a docker config file holds for a
// registry (auths, or its credential helpers).
type dockerKeychain struct{ path string }

func newDockerKeychain(path string) (authn.Keychain, error) {
	if _, err := readLimited(path, maxPayload*16); err != nil {
		return nil, fmt.Errorf("source: docker config: %w", err)
	}
	return dockerKeychain{path: path}, nil
}

// Resolve reads the file on every call, so renewed credentials are used
// without a restart.
func (k dockerKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	b, err := readLimited(k.path, maxPayload*16)
	if err != nil {
		return nil, fmt.Errorf("docker config: %w", err)
	}
	cf, err := config.LoadFromReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("docker config %s: %w", k.path, err)
	}
	cf.Filename = k.path
	ac, err := cf.GetAuthConfig(r.RegistryStr())
	if err != nil {
		return nil, fmt.Errorf("docker config %s: %w", k.path, err)
	}
	if ac.Username == "" && ac.Password == "" && ac.Auth == "" && ac.IdentityToken == "" && ac.RegistryToken == "" {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{
		Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
		IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken,
	}), nil
}

func cachePath(dir, kind, key string) string { return filepath.Join(dir, kind, key) }
