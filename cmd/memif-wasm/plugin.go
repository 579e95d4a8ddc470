package main

import (
	"context"
	"crypto"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/memif-wasm/memif-wasm/host/daemon/source"
)

func init() {
	register(command{name: "plugin", summary: "publish a plugin to an OCI registry (push), fetch and verify one (pull), or sign a file (sign)", run: pluginMain})
}

const pluginUsage = "memif-wasm plugin push FILE.wasm oci://REGISTRY/REPO:TAG [--sign-key KEY]\n" +
	"  memif-wasm plugin pull SOURCE -o FILE.wasm [--key PUB]... [--signatures require|warn|off] [--sha256 HEX]\n" +
	"  memif-wasm plugin sign FILE.wasm --sign-key KEY [-o FILE.wasm.sig]"

const pluginDescription = `push publishes a module as a CNCF wasm OCI artifact (config
application/vnd.wasm.config.v0+json, one application/wasm layer) and prints its
manifest digest; with --sign-key it also signs the manifest as cosign does (a
simple-signing payload under the tag sha256-HEX.sig, cosign's format; no
transparency-log entry is made), which the daemon verifies with the public key. pull fetches a module the way the daemon does
(oci://, https:// with --sha256, or a path), verifies digest, size and, with
--key, signature, and writes it. sign writes the detached signature of a file
(as 'cosign sign-blob' does) for a file or https plugin's signature key.
Keys: unencrypted PEM (PKCS #8) ECDSA P-256 or Ed25519 private keys, PEM public
keys; e.g. 'openssl genpkey -algorithm ed25519 -out k.pem' and
'openssl pkey -in k.pem -pubout -out k.pub'. Registry credentials come from
--docker-config; plain HTTP is used only for loopback registries and those
given with --insecure.`

const pluginExamples = `memif-wasm plugin push plugins/build/macswap.wasm oci://127.0.0.1:5000/plugins/macswap:v1 --sign-key k.pem
memif-wasm plugin pull oci://127.0.0.1:5000/plugins/macswap:v1 --key k.pub --signatures require -o macswap.wasm
memif-wasm plugin sign plugins/build/acl.wasm --sign-key k.pem    # writes acl.wasm.sig`

func pluginMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("plugin", pluginUsage, pluginDescription, pluginExamples)
	signKey := fs.String("sign-key", "", "push, sign: private key to sign with")
	keys := fs.StringArray("key", nil, "pull: public key a signature must verify with (repeatable)")
	sigPolicy := fs.String("signatures", "", "pull: require, warn or off (default: require with --key, else off)")
	sha := fs.String("sha256", "", "pull: the module's sha256 (https, file) or the manifest digest (oci)")
	sigFile := fs.String("signature", "", "pull: detached signature of a file or https module (path or https URL)")
	out := fs.StringP("output", "o", "", "pull, sign: file to write")
	dockerConfig := fs.String("docker-config", "", "docker config.json with registry credentials")
	insecure := fs.StringArray("insecure", nil, "registry HOST[:PORT] that may be reached over plain HTTP (repeatable)")
	if code, done := fs.parse(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() == 0 {
		return fs.usageError(stderr, "want push, pull or sign")
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "memif-wasm plugin %s: %v\n", fs.Arg(0), err)
		return exitFailure
	}
	f, err := source.New(source.Options{DockerConfig: *dockerConfig, Insecure: *insecure})
	if err != nil {
		return fail(err)
	}
	switch op := fs.Arg(0); op {
	case "push":
		if fs.NArg() != 3 {
			return fs.usageError(stderr, "push wants FILE.wasm and oci://REGISTRY/REPO:TAG")
		}
		wasm, err := readFileLimited(fs.Arg(1), source.DefaultMaxSize)
		if err != nil {
			return fail(err)
		}
		signer, err := loadSigner(*signKey)
		if err != nil {
			return fail(err)
		}
		d, err := f.Push(ctx, wasm, fs.Arg(2), signer)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintln(stdout, d)
		return exitOK
	case "pull":
		if fs.NArg() != 2 || *out == "" {
			return fs.usageError(stderr, "pull wants SOURCE and -o FILE")
		}
		req := source.Request{Source: fs.Arg(1), SHA256: *sha, Pull: source.PullAlways, Signature: *sigFile}
		if *sigPolicy == "" && len(*keys) > 0 {
			*sigPolicy = "require"
		}
		if req.Signatures, err = source.ParseSignaturePolicy(*sigPolicy); err != nil {
			return fs.usageError(stderr, "--signatures: %v", err)
		}
		for _, k := range *keys {
			pk, err := source.LoadPublicKey(k)
			if err != nil {
				return fail(err)
			}
			req.Keys = append(req.Keys, pk)
		}
		m, err := f.Fetch(ctx, req)
		if err != nil {
			return fail(err)
		}
		if err := writeFileAtomic(*out, m.Wasm); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "%s sha256:%s %d bytes", *out, m.SHA256, len(m.Wasm))
		if m.Digest != "" {
			fmt.Fprintf(stdout, " manifest %s (%s)", m.Digest, m.Format)
		}
		switch {
		case m.SignedBy != "":
			fmt.Fprintf(stdout, " signed by %s", m.SignedBy)
		case m.Unverified != nil:
			fmt.Fprintf(stdout, " NOT VERIFIED: %v", m.Unverified)
		}
		fmt.Fprintln(stdout)
		return exitOK
	case "sign":
		if fs.NArg() != 2 || *signKey == "" {
			return fs.usageError(stderr, "sign wants FILE.wasm and --sign-key")
		}
		wasm, err := readFileLimited(fs.Arg(1), source.DefaultMaxSize)
		if err != nil {
			return fail(err)
		}
		signer, err := loadSigner(*signKey)
		if err != nil {
			return fail(err)
		}
		sig, err := source.Sign(signer, wasm)
		if err != nil {
			return fail(err)
		}
		dest := *out
		if dest == "" {
			dest = fs.Arg(1) + ".sig"
		}
		if err := writeFileAtomic(dest, []byte(sig)); err != nil {
			return fail(err)
		}
		fmt.Fprintln(stdout, dest)
		return exitOK
	default:
		return fs.usageError(stderr, "unknown operation %q: want push, pull or sign", op)
	}
}

// loadSigner loads the private key at path; an empty path is no key.
func loadSigner(path string) (crypto.Signer, error) {
	if path == "" {
		return nil, nil
	}
	return source.LoadPrivateKey(path)
}

// writeFileAtomic writes b to path through a temporary file beside it.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".memif-wasm-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
