// Package image builds memif-wasm's container image without a container
// engine: the static binary and the example plugins, in one layer on an
// empty base, with a non-root user, an entrypoint and OCI labels. The image
// is written to an OCI image layout directory or pushed to a registry with
// go-containerregistry, and read back by [Inspect] to check what it holds.
//
// The base is empty (no base image is pulled): the binary is built with
// CGO_ENABLED=0, and [Build] refuses one that needs a dynamic loader or
// shared libraries ([CheckStatic]), because it could not start in an image
// that has neither.
//
// The same inputs give the same image, byte for byte: file times and the
// creation time are fixed ([Options.Created], by default the Unix epoch, or
// SOURCE_DATE_EPOCH in the mkimage command), so a rebuild has the same digest.
package image
