package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Where things are in the image. The Kubernetes manifests and the Helm
// chart under deploy/ mount the config and the writable directories at these
// paths.
const (
	BinaryPath = "/usr/local/bin/memif-wasm"
	PluginDir  = "/usr/share/memif-wasm/plugins"
	ConfigPath = "/etc/memif-wasm/memif-wasm.yaml"
	RunDir     = "/run/memif-wasm"       // admin socket, memif sockets the daemon listens on
	CacheDir   = "/var/cache/memif-wasm" // compiled plugins, pulled modules
)

// DefaultUser is the numeric user and group the image runs as: nobody's
// files, no entry needed in any passwd file (65532 is the "nonroot" user of
// distroless images, so the same IDs mean the same thing there).
const DefaultUser = "65532:65532"

// MetricsPort is the port the image declares for Prometheus /metrics,
// /healthz and /readyz (the config's metrics.addr must listen on it).
const MetricsPort = 9190

// Options describe an image. The zero value of every field but Binary is a
// usable default.
type Options struct {
	// Binary is the path of the memif-wasm executable; it must be static.
	Binary string
	// Plugins are .wasm files copied into PluginDir under their base names.
	Plugins []string
	// User is "UID" or "UID:GID", numeric; default DefaultUser. Root ("0")
	// is refused: an image that needs root should say so in the pod spec.
	User string
	// Created is the image's creation time and every file's modification
	// time; default the Unix epoch, so that rebuilds are byte-identical.
	Created time.Time
	// Version and Revision go into the OCI labels
	// org.opencontainers.image.version and .revision when set.
	Version, Revision string
	// Source is the org.opencontainers.image.source label; default the
	// project's repository.
	Source string
}

// DefaultSource is the org.opencontainers.image.source label by default.
const DefaultSource = "https://github.com/memif-wasm/memif-wasm"

// MaxPluginSize bounds each plugin file copied into the image: the host's
// own admission refuses far smaller modules long before this, so a larger
// file is a wrong path, not a plugin.
const MaxPluginSize = 256 << 20

// Build returns the image described by o. Nothing is written anywhere; use
// WriteLayout or Push.
func Build(o Options) (v1.Image, error) {
	if o.Binary == "" {
		return nil, errors.New("image: no binary given")
	}
	arch, err := CheckStatic(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	user := o.User
	if user == "" {
		user = DefaultUser
	}
	if err := checkUser(user); err != nil {
		return nil, fmt.Errorf("image: user %q: %w", user, err)
	}
	created := o.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	created = created.UTC()
	files, err := collect(o)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	layerTar, err := writeTar(files, created)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching) // gzip once, not per read
	if err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: "memif-wasm deploy/cmd/mkimage", Comment: "memif-wasm binary and example plugins"},
	})
	if err != nil {
		return nil, fmt.Errorf("image: appending the layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = arch
	cf.OS = "linux"
	cf.Created = v1.Time{Time: created}
	cf.Author = ""
	cf.Config = v1.Config{
		User:         user,
		Entrypoint:   []string{BinaryPath},
		Cmd:          []string{"run", "--config", ConfigPath},
		WorkingDir:   "/",
		Env:          []string{"PATH=/usr/local/bin"},
		ExposedPorts: map[string]struct{}{strconv.Itoa(MetricsPort) + "/tcp": {}},
		StopSignal:   "SIGTERM",
		Labels:       labels(o),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image: config: %w", err)
	}
	return img, nil
}

func labels(o Options) map[string]string {
	src := o.Source
	if src == "" {
		src = DefaultSource
	}
	l := map[string]string{
		"org.opencontainers.image.title":       "memif-wasm",
		"org.opencontainers.image.description": "memif packet host running WebAssembly packet plugins",
		"org.opencontainers.image.source":      src,
		"org.opencontainers.image.base.name":   "scratch",
	}
	if o.Version != "" {
		l["org.opencontainers.image.version"] = o.Version
	}
	if o.Revision != "" {
		l["org.opencontainers.image.revision"] = o.Revision
	}
	return l
}

// checkUser accepts "UID" or "UID:GID", numeric, not root: a name would
// need a passwd file in the image to resolve.
func checkUser(u string) error {
	uid, gid, hasGID := strings.Cut(u, ":")
	n, err := strconv.ParseUint(uid, 10, 32)
	if err == nil && hasGID {
		_, err = strconv.ParseUint(gid, 10, 32)
	}
	if err != nil {
		return errors.New("want a numeric UID or UID:GID")
	}
	if n == 0 {
		return errors.New("the image does not run as root")
	}
	return nil
}

// file is one entry of the layer.
type file struct {
	name string // absolute path in the image
	mode int64
	data []byte // nil for a directory
}

// collect reads the binary and the plugins, and lists every directory the
// layer must hold, with the modes a non-root process needs: the writable
// ones are mount points (read-only root filesystem) but exist in the image
// so that it also runs without mounts.
func collect(o Options) ([]file, error) {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, err
	}
	files := []file{{name: BinaryPath, mode: 0o755, data: bin}}
	seen := map[string]string{}
	for _, p := range o.Plugins {
		base := filepath.Base(p)
		if !strings.HasSuffix(base, ".wasm") {
			return nil, fmt.Errorf("plugin %s: not a .wasm file", p)
		}
		if prev, dup := seen[base]; dup {
			return nil, fmt.Errorf("plugin %s: same name as %s in %s", p, prev, PluginDir)
		}
		seen[base] = p
		data, err := readPlugin(p)
		if err != nil {
			return nil, err
		}
		files = append(files, file{name: path.Join(PluginDir, base), mode: 0o644, data: data})
	}
	dirs := map[string]int64{"/tmp": 0o1777, RunDir: 0o1777, CacheDir: 0o1777, path.Dir(ConfigPath): 0o755}
	var names []string
	for d := range dirs {
		names = append(names, d)
	}
	for _, f := range files {
		names = append(names, f.name)
	}
	for _, n := range names {
		for d := path.Dir(n); d != "/"; d = path.Dir(d) {
			if _, ok := dirs[d]; !ok {
				dirs[d] = 0o755
			}
		}
	}
	for d, mode := range dirs {
		files = append(files, file{name: d, mode: mode})
	}
	// Parents sort before their children; the order is fixed for a
	// reproducible digest.
	slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.name, b.name) })
	return files, nil
}

func readPlugin(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("plugin: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxPluginSize+1))
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", p, err)
	}
	if len(data) > MaxPluginSize {
		return nil, fmt.Errorf("plugin %s: larger than %d bytes", p, MaxPluginSize)
	}
	if len(data) < 8 || !bytes.Equal(data[:4], []byte("\x00asm")) {
		return nil, fmt.Errorf("plugin %s: not a WebAssembly binary (no \\0asm magic)", p)
	}
	return data, nil
}

// writeTar lays files out as a tar stream owned by root (files are read by
// anyone; only the writable directories are world-writable, with the
// sticky bit).
func writeTar(files []file, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name:    strings.TrimPrefix(f.name, "/"),
			Mode:    f.mode,
			ModTime: mtime,
		}
		if f.data == nil {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer %s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("layer %s: %w", f.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
