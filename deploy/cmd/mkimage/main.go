// Command mkimage builds memif-wasm's container image without a container
// engine (see package image): it writes an OCI image layout and/or pushes
// the image to a registry, then prints the digest and what the image holds.
//
//	mkimage --binary bin/memif-wasm --plugins 'plugins/build/*.wasm' --layout bin/memif-wasm-image --tag dev
//	mkimage --binary bin/memif-wasm --plugins 'plugins/build/*.wasm' --push 127.0.0.1:5000/memif-wasm:dev
//
// SOURCE_DATE_EPOCH, when set, is the image's creation and file time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/memif-wasm/memif-wasm/deploy/image"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	var o image.Options
	var pluginGlob, layoutDir, tag, push string
	var insecure bool
	fs.StringVar(&o.Binary, "binary", "bin/memif-wasm", "static memif-wasm binary (make build)")
	fs.StringVar(&pluginGlob, "plugins", "", "glob of .wasm plugins to put in "+image.PluginDir)
	fs.StringVar(&o.User, "user", image.DefaultUser, "numeric UID:GID the image runs as")
	fs.StringVar(&o.Version, "version", "", "org.opencontainers.image.version label")
	fs.StringVar(&o.Revision, "revision", "", "org.opencontainers.image.revision label")
	fs.StringVar(&layoutDir, "layout", "", "write the image into this OCI image layout directory")
	fs.StringVar(&tag, "tag", "dev", "the image's tag in the layout")
	fs.StringVar(&push, "push", "", "also push to this reference, REGISTRY/REPO:TAG")
	fs.BoolVar(&insecure, "insecure", false, "plain HTTP to a non-loopback registry")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if layoutDir == "" && push == "" {
		return errors.New("nothing to do: give --layout DIR and/or --push REF")
	}
	if pluginGlob != "" {
		m, err := filepath.Glob(pluginGlob)
		if err != nil {
			return fmt.Errorf("--plugins: %w", err)
		}
		if len(m) == 0 {
			return fmt.Errorf("--plugins %q matches no file (make plugins)", pluginGlob)
		}
		o.Plugins = m
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil || sec < 0 {
			return fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970", s)
		}
		o.Created = time.Unix(sec, 0)
	}
	img, err := image.Build(o)
	if err != nil {
		return err
	}
	if layoutDir != "" {
		if err := image.WriteLayout(layoutDir, tag, img); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s:%s\n", layoutDir, tag)
	}
	if push != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if _, err := (image.Registry{Insecure: insecure}).Push(ctx, push, img); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "pushed %s\n", push)
	}
	s, err := image.Inspect(img)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "digest %s  platform %s  user %s  entrypoint %q cmd %q\n", s.Digest, s.Platform, s.User, s.Entrypoint, s.Cmd)
	names := make([]string, 0, len(s.Files))
	for n := range s.Files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		f := s.Files[n]
		fmt.Fprintf(stdout, "  %04o %10d %s\n", f.Mode, f.Size, n)
	}
	return nil
}
