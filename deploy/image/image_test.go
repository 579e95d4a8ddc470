package image_test

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/memif-wasm/memif-wasm/deploy/image"
	"github.com/memif-wasm/memif-wasm/deploy/internal/deploytest"
	"github.com/memif-wasm/memif-wasm/host/hosttest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	deploytest.Cleanup()
	os.Exit(code)
}

func binary(t *testing.T) string    { return deploytest.Binary(t) }
func plugins(t *testing.T) []string { return deploytest.Plugins(t) }

func sha256File(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestMakeBuildIsStatic(t *testing.T) {
	arch, err := image.CheckStatic(binary(t))
	if err != nil {
		t.Fatalf("make build made a binary the empty base cannot run: %v", err)
	}
	if arch != runtime.GOARCH {
		t.Errorf("arch %s, want %s", arch, runtime.GOARCH)
	}
}

func TestCheckStaticRefusesDynamic(t *testing.T) {
	// Debian's shell links libc dynamically, through ld-linux.
	_, err := image.CheckStatic("/bin/sh")
	if !errors.Is(err, image.ErrNotStatic) {
		t.Fatalf("CheckStatic(/bin/sh) = %v, want ErrNotStatic", err)
	}
}

func TestCheckStaticRefusesNonELF(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]byte{
		"script":    []byte("#!/bin/sh\necho hi\n"),
		"empty":     nil,
		"truncated": []byte("\x7fELF\x02\x01\x01\x00\x00"),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, data, 0o755); err != nil {
				t.Fatal(err)
			}
			if _, err := image.CheckStatic(p); err == nil || !strings.Contains(err.Error(), p) {
				t.Fatalf("CheckStatic(%s) = %v, want an error naming the file", name, err)
			}
		})
	}
	if _, err := image.CheckStatic(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
}

func TestBuildRefuses(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	notWasm := filepath.Join(dir, "fake.wasm")
	if err := os.WriteFile(notWasm, []byte("not wasm at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	txt := filepath.Join(dir, "plugin.txt")
	if err := os.WriteFile(txt, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := plugins(t)
	otherDir := filepath.Join(dir, "other")
	if err := os.Mkdir(otherDir, 0o755); err != nil {
		t.Fatal(err)
	}
	dup := filepath.Join(otherDir, filepath.Base(p[0]))
	if err := os.WriteFile(dup, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		o    image.Options
		want string
	}{
		{"no binary", image.Options{}, "no binary"},
		{"missing binary", image.Options{Binary: filepath.Join(dir, "nope")}, "no such file"},
		{"dynamic binary", image.Options{Binary: "/bin/sh"}, "not statically linked"},
		{"root user", image.Options{Binary: bin, User: "0"}, "root"},
		{"root user with group", image.Options{Binary: bin, User: "0:65532"}, "root"},
		{"named user", image.Options{Binary: bin, User: "nonroot"}, "numeric"},
		{"empty group", image.Options{Binary: bin, User: "65532:"}, "numeric"},
		{"negative uid", image.Options{Binary: bin, User: "-1"}, "numeric"},
		{"not wasm", image.Options{Binary: bin, Plugins: []string{notWasm}}, "not a WebAssembly binary"},
		{"not .wasm name", image.Options{Binary: bin, Plugins: []string{txt}}, "not a .wasm file"},
		{"missing plugin", image.Options{Binary: bin, Plugins: []string{filepath.Join(dir, "gone.wasm")}}, "no such file"},
		{"duplicate plugin name", image.Options{Binary: bin, Plugins: []string{p[0], dup}}, "same name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, err := image.Build(c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Build = %v, %v; want an error containing %q", img, err, c.want)
			}
		})
	}
}

// checkSummary checks everything the image must say and hold.
func checkSummary(t *testing.T, s *image.Summary, bin string, plugins []string) {
	t.Helper()
	if s.Platform != "linux/"+runtime.GOARCH {
		t.Errorf("platform %s", s.Platform)
	}
	if s.User != image.DefaultUser {
		t.Errorf("user %q, want %q", s.User, image.DefaultUser)
	}
	if !slices.Equal(s.Entrypoint, []string{image.BinaryPath}) {
		t.Errorf("entrypoint %q", s.Entrypoint)
	}
	if !slices.Equal(s.Cmd, []string{"run", "--config", image.ConfigPath}) {
		t.Errorf("cmd %q", s.Cmd)
	}
	if !slices.Equal(s.ExposedPorts, []string{"9190/tcp"}) {
		t.Errorf("exposed ports %q", s.ExposedPorts)
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.title":    "memif-wasm",
		"org.opencontainers.image.source":   image.DefaultSource,
		"org.opencontainers.image.version":  "v0.0.0-test",
		"org.opencontainers.image.revision": "abc123",
	} {
		if s.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, s.Labels[k], v)
		}
	}
	want := map[string]string{image.BinaryPath: sha256File(t, bin)}
	for _, p := range plugins {
		want[filepath.Join(image.PluginDir, filepath.Base(p))] = sha256File(t, p)
	}
	if len(s.Files) != len(want) {
		t.Errorf("image has %d files, want %d: %v", len(s.Files), len(want), s.Files)
	}
	for name, sum := range want {
		f, ok := s.Files[name]
		if !ok {
			t.Errorf("image lacks %s", name)
			continue
		}
		if f.SHA256 != sum {
			t.Errorf("%s: sha256 %s, want %s", name, f.SHA256, sum)
		}
		if f.UID != 0 || f.GID != 0 {
			t.Errorf("%s owned by %d:%d: the running user must not own its own code", name, f.UID, f.GID)
		}
	}
	if m := s.Files[image.BinaryPath].Mode; m != 0o755 {
		t.Errorf("binary mode %o", m)
	}
	for _, d := range []string{image.RunDir, image.CacheDir, "/tmp"} {
		if m, ok := s.Dirs[d]; !ok || m != 0o1777 {
			t.Errorf("dir %s: mode %o (present %v), want 1777 for the non-root user", d, m, ok)
		}
	}
	if _, ok := s.Dirs["/etc/memif-wasm"]; !ok {
		t.Error("no /etc/memif-wasm for the config mount")
	}
}

func testOptions(t *testing.T) image.Options {
	return image.Options{Binary: binary(t), Plugins: plugins(t), Version: "v0.0.0-test", Revision: "abc123"}
}

var built struct {
	once sync.Once
	img  v1.Image
	err  error
}

// testImage is the image of testOptions, built once for the tests that
// only read it (each build gzips tens of MB, slow under -race).
func testImage(t *testing.T) (v1.Image, image.Options) {
	t.Helper()
	o := testOptions(t)
	built.once.Do(func() { built.img, built.err = image.Build(o) })
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.img, o
}

func TestImageLayoutRoundTrip(t *testing.T) {
	img, o := testImage(t)
	dir := filepath.Join(t.TempDir(), "oci")
	if err := image.WriteLayout(dir, "dev", img); err != nil {
		t.Fatal(err)
	}
	back, err := image.ReadLayout(dir, "dev")
	if err != nil {
		t.Fatal(err)
	}
	s, err := image.Inspect(back)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := img.Digest(); s.Digest != d {
		t.Errorf("digest read back %s, built %s", s.Digest, d)
	}
	checkSummary(t, s, o.Binary, o.Plugins)
	if mt, _ := back.MediaType(); mt != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("manifest media type %s", mt)
	}

	// The same tag again replaces; another tag adds.
	if err := image.WriteLayout(dir, "dev", img); err != nil {
		t.Fatal(err)
	}
	if err := image.WriteLayout(dir, "v1", img); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := p.ImageIndex()
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, d := range m.Manifests {
		tags = append(tags, d.Annotations[image.RefNameAnnotation])
	}
	slices.Sort(tags)
	if !slices.Equal(tags, []string{"dev", "v1"}) {
		t.Errorf("layout tags %q, want [dev v1]", tags)
	}
	if _, err := image.ReadLayout(dir, "v2"); err == nil || !strings.Contains(err.Error(), `no image tagged "v2"`) {
		t.Errorf("ReadLayout of a missing tag: %v", err)
	}
	if _, err := image.ReadLayout(t.TempDir(), "dev"); err == nil {
		t.Error("ReadLayout of an empty directory: no error")
	}
	if err := image.WriteLayout(dir, "", img); err == nil {
		t.Error("WriteLayout with an empty tag: no error")
	}
}

// TestImageReproducible: the same inputs give the same digest. A tiny
// binary and one plugin: the property does not depend on their size.
func TestImageReproducible(t *testing.T) {
	o := image.Options{Binary: deploytest.TinyStatic(t, t.TempDir()), Plugins: plugins(t)[:1]}
	a, err := image.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := image.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("two builds of the same inputs: %s and %s", da, db)
	}
	o.Created = time.Unix(1700000000, 0)
	c, err := image.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	dc, _ := c.Digest()
	if dc == da {
		t.Error("another creation time gave the same digest")
	}
	cf, _ := c.ConfigFile()
	if !cf.Created.Time.Equal(o.Created) {
		t.Errorf("created %v, want %v", cf.Created, o.Created)
	}
}

// TestImagePushPullRegistry pushes the image to a real registry (Debian's
// docker-registry on loopback) and reads it back by tag and by digest.
func TestImagePushPullRegistry(t *testing.T) {
	img, o := testImage(t)
	host, _ := hosttest.Registry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reg := image.Registry{} // loopback: plain HTTP without Insecure
	ref := host + "/memif-wasm/memif-wasm:test"
	d, err := reg.Push(ctx, ref, img)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{ref, host + "/memif-wasm/memif-wasm@" + d.String()} {
		back, err := reg.Pull(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		s, err := image.Inspect(back)
		if err != nil {
			t.Fatal(err)
		}
		if s.Digest != d {
			t.Errorf("%s: digest %s, pushed %s", r, s.Digest, d)
		}
		checkSummary(t, s, o.Binary, o.Plugins)
	}
	if _, err := reg.Pull(ctx, host+"/memif-wasm/memif-wasm:missing"); err == nil {
		t.Error("pulling a missing tag: no error")
	}
	if _, err := reg.Pull(ctx, "not a reference"); err == nil || !strings.Contains(err.Error(), "reference") {
		t.Errorf("bad reference: %v", err)
	}
}

// TestImageBinaryRunsItsPlugins extracts the image's filesystem and runs
// its memif-wasm on its own example plugin: the binary starts with nothing
// but what the image holds, and admits the plugin shipped beside it.
func TestImageBinaryRunsItsPlugins(t *testing.T) {
	img, o := testImage(t)
	root := t.TempDir()
	extract(t, img, root)
	bin := filepath.Join(root, image.BinaryPath)
	if sha256File(t, bin) != sha256File(t, o.Binary) {
		t.Fatal("the extracted binary is not make build's")
	}
	plugin := filepath.Join(root, image.PluginDir, "pass.wasm")
	if _, err := os.Stat(plugin); err != nil {
		t.Fatalf("the image has no pass.wasm: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "inspect", plugin).CombinedOutput()
	if err != nil {
		t.Fatalf("%s inspect: %v\n%s", bin, err, out)
	}
	if !strings.Contains(string(out), "admitted     yes") {
		t.Errorf("inspect did not admit the image's pass.wasm:\n%s", out)
	}
}

// extract writes img's flattened filesystem under root (regular files and
// directories only, which is all this image has).
func extract(t *testing.T, img v1.Image, root string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !filepath.IsLocal(h.Name) {
			t.Fatalf("image entry %q escapes the root", h.Name)
		}
		p := filepath.Join(root, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			// The image's modes (1777 for the writable directories), not umask's.
			if err := os.Chmod(p, os.FileMode(h.Mode).Perm()|modeBits(h.Mode)); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("image entry %q has type %q", h.Name, h.Typeflag)
		}
	}
}

// modeBits turns tar's setuid/setgid/sticky bits into os.FileMode's.
func modeBits(m int64) os.FileMode {
	var fm os.FileMode
	if m&0o4000 != 0 {
		fm |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		fm |= os.ModeSticky
	}
	return fm
}
