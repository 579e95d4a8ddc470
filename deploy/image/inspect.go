package image

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Summary is what an image holds, as read back from its manifest, config
// and flattened filesystem.
type Summary struct {
	Digest       v1.Hash
	Platform     string // OS/ARCH
	User         string
	Entrypoint   []string
	Cmd          []string
	Labels       map[string]string
	ExposedPorts []string
	// Files maps each regular file's absolute path to its sha256 (hex)
	// and mode.
	Files map[string]FileInfo
	// Dirs maps each directory's absolute path to its mode.
	Dirs map[string]int64
}

// FileInfo describes one regular file of an image.
type FileInfo struct {
	SHA256   string
	Size     int64
	Mode     int64
	UID, GID int
}

// Inspect reads img back. Links, devices and other special files are
// reported as errors: this image has none.
func Inspect(img v1.Image) (*Summary, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image: config: %w", err)
	}
	s := &Summary{
		Digest:     d,
		Platform:   cf.OS + "/" + cf.Architecture,
		User:       cf.Config.User,
		Entrypoint: cf.Config.Entrypoint,
		Cmd:        cf.Config.Cmd,
		Labels:     cf.Config.Labels,
		Files:      map[string]FileInfo{},
		Dirs:       map[string]int64{},
	}
	for p := range cf.Config.ExposedPorts {
		s.ExposedPorts = append(s.ExposedPorts, p)
	}
	slices.Sort(s.ExposedPorts)
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("image: filesystem: %w", err)
		}
		name := "/" + strings.Trim(h.Name, "/")
		switch h.Typeflag {
		case tar.TypeDir:
			s.Dirs[name] = h.Mode
		case tar.TypeReg:
			sum := sha256.New()
			n, err := io.Copy(sum, tr)
			if err != nil {
				return nil, fmt.Errorf("image: filesystem %s: %w", name, err)
			}
			s.Files[name] = FileInfo{SHA256: hex.EncodeToString(sum.Sum(nil)), Size: n, Mode: h.Mode, UID: h.Uid, GID: h.Gid}
		default:
			return nil, fmt.Errorf("image: filesystem %s: unexpected entry type %q", name, h.Typeflag)
		}
	}
	return s, nil
}
