package source

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Kind is where a plugin comes from.
type Kind int

// The kinds of source.
const (
	File  Kind = iota // a local path
	OCI               // oci://REGISTRY/REPO:TAG or oci://REGISTRY/REPO@sha256:HEX
	HTTPS             // https://..., pinned by a required sha256
)

func (k Kind) String() string {
	switch k {
	case File:
		return "file"
	case OCI:
		return "oci"
	case HTTPS:
		return "https"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Ref is a parsed plugin source.
type Ref struct {
	Kind Kind
	// Raw is the source as written.
	Raw string
	// Path is the local file (File).
	Path string
	// Registry is HOST[:PORT] and Repository the path within it (OCI).
	Registry, Repository string
	// Tag or Digest ("sha256:HEX") names the manifest (OCI): one of them is set.
	Tag, Digest string
	// URL is the https URL (HTTPS).
	URL string
}

// MaxRefLen bounds a source string: a registry reference is at most a few
// hundred bytes, so anything longer is a mistake or an attack.
const MaxRefLen = 4096

// Parse reads a plugin source: "oci://REGISTRY/REPO:TAG",
// "oci://REGISTRY/REPO@sha256:HEX", "https://HOST/PATH", or else a local path.
// An oci:// reference must name its registry (no implicit Docker Hub) and a
// tag or a digest (no implicit "latest"); an https:// URL must not carry
// user info (credentials belong in files, not in a config that is logged).
func Parse(s string) (Ref, error) {
	r := Ref{Raw: s}
	if s == "" {
		return r, fmt.Errorf("source: empty")
	}
	if len(s) > MaxRefLen {
		return r, fmt.Errorf("source: %d bytes long, more than %d", len(s), MaxRefLen)
	}
	switch {
	case strings.HasPrefix(s, "oci://"):
		r.Kind = OCI
		return r, r.parseOCI(strings.TrimPrefix(s, "oci://"))
	case strings.HasPrefix(s, "https://"):
		r.Kind = HTTPS
		u, err := url.Parse(s)
		if err != nil {
			return r, fmt.Errorf("source %q: %w", s, err)
		}
		if u.Host == "" {
			return r, fmt.Errorf("source %q: no host", s)
		}
		if u.User != nil {
			return r, fmt.Errorf("source %q: credentials in the URL are not accepted", s)
		}
		r.URL = u.String()
		return r, nil
	case strings.Contains(s, "://"):
		return r, fmt.Errorf("source %q: unsupported scheme (oci://, https:// or a local path)", s)
	}
	r.Kind = File
	r.Path = s
	return r, nil
}

func (r *Ref) parseOCI(s string) error {
	repo, dig, hasDigest := strings.Cut(s, "@")
	if hasDigest {
		if err := checkDigest(dig); err != nil {
			return fmt.Errorf("source %q: %w", r.Raw, err)
		}
		r.Digest = dig
	}
	slash := strings.IndexByte(repo, '/')
	if slash <= 0 {
		return fmt.Errorf("source %q: no registry host (oci://HOST[:PORT]/REPO:TAG)", r.Raw)
	}
	r.Registry = repo[:slash]
	rest := repo[slash+1:]
	// A tag follows the last ':' after the last '/'.
	if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		r.Tag = rest[i+1:]
		rest = rest[:i]
	}
	r.Repository = rest
	if r.Tag == "" && r.Digest == "" {
		return fmt.Errorf("source %q: no tag or digest (add :TAG or @sha256:HEX)", r.Raw)
	}
	if r.Tag != "" && r.Digest != "" {
		// The digest decides; a tag beside it would only mislead.
		return fmt.Errorf("source %q: both a tag and a digest; name one", r.Raw)
	}
	// Validate with the registry library's own grammar, strictly.
	if _, err := r.nameRef(false); err != nil {
		return fmt.Errorf("source %q: %w", r.Raw, err)
	}
	return nil
}

// checkDigest accepts only "sha256:" and 64 lower-case hex digits.
func checkDigest(d string) error {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok {
		return fmt.Errorf("digest %q: only sha256 digests are accepted", d)
	}
	if len(h) != 64 || strings.ToLower(h) != h {
		return fmt.Errorf("digest %q: want 64 lower-case hex digits", d)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return fmt.Errorf("digest %q: not hex", d)
	}
	return nil
}

// nameRef is r as the registry library's reference. insecure lets the
// library try plain HTTP; the transport still refuses it for registries
// that are neither loopback nor listed as insecure.
func (r Ref) nameRef(insecure bool) (name.Reference, error) {
	opts := []name.Option{name.StrictValidation}
	if insecure {
		opts = append(opts, name.Insecure)
	}
	if r.Digest != "" {
		return name.NewDigest(r.Registry+"/"+r.Repository+"@"+r.Digest, opts...)
	}
	return name.NewTag(r.Registry+"/"+r.Repository+":"+r.Tag, opts...)
}

// WithDigest is r pinned to digest d (a tag reference resolved).
func (r Ref) WithDigest(d string) Ref {
	r.Tag, r.Digest = "", d
	r.Raw = "oci://" + r.Registry + "/" + r.Repository + "@" + d
	return r
}

// String is the source as written.
func (r Ref) String() string { return r.Raw }

// BaseName is a default plugin name for the source: the file's or
// repository's last element without ".wasm".
func (r Ref) BaseName() string {
	var p string
	switch r.Kind {
	case OCI:
		p = r.Repository
	case HTTPS:
		u, _ := url.Parse(r.URL)
		if u != nil {
			p = u.Path
		}
	default:
		p = r.Path
	}
	return strings.TrimSuffix(path.Base(p), ".wasm")
}
