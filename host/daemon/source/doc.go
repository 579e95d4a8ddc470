// Package source fetches the wasm modules of plugins from where a config
// says they are: a local file, an OCI registry (oci://REGISTRY/REPO:TAG or
// @sha256:DIGEST) or an https URL pinned by its sha256. It verifies what it
// fetched (digests, size, and cosign-compatible signatures against
// configured public keys) before anything is handed to the sandbox, and
// keeps verified modules in an on-disk cache addressed by digest.
//
// # Formats
//
// An OCI manifest is read as one of: the CNCF wasm artifact (config
// application/vnd.wasm.config.v0+json, one application/wasm layer), the
// older wasm artifact Istio reads (one
// application/vnd.module.wasm.content.layer.v1+wasm layer), or the
// single-layer image Istio reads (one OCI or Docker tar+gzip layer holding
// plugin.wasm). Image indexes, several layers and anything else are
// refused with the reason. Push writes the CNCF form.
//
// # Signatures
//
// An OCI module is signed as cosign signs an image: a simple-signing
// payload naming the manifest digest, stored as a layer of the manifest
// tagged sha256-HEX.sig in the same repository, its signature (base64) in
// the layer's dev.cosignproject.cosign/signature annotation. A file or
// https module is signed as cosign sign-blob signs a file: a detached
// base64 signature of the module's bytes. Keys are PEM public keys, ECDSA
// P-256 (signature ASN.1 over SHA-256) or Ed25519 (over the message
// itself). The policy decides what a missing or bad signature does: Off
// ignores signatures, Warn loads the module and reports why it is not
// verified, Require refuses it.
//
// # Network
//
// TLS is the default; plain HTTP is used only for a loopback registry or
// one listed in Options.Insecure, and the transport refuses any other
// plain-HTTP request whatever the registry library tries; Options.CAFile
// adds a private CA. Credentials come from a docker config file. A
// manifest is cut off at 4 MiB as it is read. A layer larger than
// Options.MaxSize is
// refused from its descriptor, before its body is requested, and a body
// that runs past its declared size is cut off there. Network failures are
// retried with exponential backoff; verification failures are not.
// Every fetch is counted by result (Fetcher.Counts).
package source
