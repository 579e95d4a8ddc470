package main

import (
	"context"
	"fmt"
	"io"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/host/daemon/source"
)

func init() {
	program.Register(cli.Command{Name: "plugin", Summary: "publish a plugin to an OCI registry (push), fetch and verify one (pull), or sign a file (sign)", Run: pluginMain})
}

const pluginUsage = "memif-wasm plugin push FILE.wasm oci://REGISTRY/REPO:TAG [--sign-key KEY]\n" +
	"  memif-wasm plugin pull SOURCE -o FILE.wasm [--key PUB]... [--signatures require|warn|off] [--sha256 HEX]\n" +
	"  memif-wasm plugin sign FILE.wasm --sign-key KEY [-o FILE.wasm.sig]"

const pluginDescription = `push publishes a module as a CNCF wasm OCI artifact (config
application/vnd.wasm.config.v0+json, one application/wasm layer) and prints its
manifest digest; with --sign-key it also signs the manifest as cosign does (a
simple-signing payload under the tag sha256-HEX.sig, cosign's format; no
transparency-log entry is made), which the daemon verifies with the public key.
pull fetches a module the way the daemon does (oci://, https:// with --sha256, or
a path), verifies digest, size and, with --key, signature, and writes it. sign
writes the detached signature of a file (as 'cosign sign-blob' does) for a file
or https plugin's signature key. Keys: unencrypted PEM (PKCS #8) ECDSA P-256 or
Ed25519 private keys, PEM public keys; e.g. 'openssl genpkey -algorithm ed25519
-out k.pem' and 'openssl pkey -in k.pem -pubout -out k.pub'. Credentials come from
--docker-config; plain HTTP is used only for loopback registries and --insecure ones.`

const pluginExamples = `memif-wasm plugin push plugins/build/macswap.wasm oci://127.0.0.1:5000/plugins/macswap:v1 --sign-key k.pem
memif-wasm plugin pull oci://127.0.0.1:5000/plugins/macswap:v1 --key k.pub --signatures require -o macswap.wasm
memif-wasm plugin sign plugins/build/acl.wasm --sign-key k.pem    # writes acl.wasm.sig`

func pluginMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("memif-wasm plugin", pluginUsage, pluginDescription, pluginExamples)
	signKey := fs.String("sign-key", "", "push, sign: private key to sign with")
	keys := fs.StringArray("key", nil, "pull: public key a signature must verify with (repeatable)")
	sigPolicy := fs.String("signatures", "", "pull: require, warn or off (default: require with --key, else off)")
	sha := fs.String("sha256", "", "pull: the module's sha256 (https, file) or the manifest digest (oci)")
	sigFile := fs.String("signature", "", "pull: detached signature of a file or https module (path or https URL)")
	out := fs.StringP("output", "o", "", "pull, sign: file to write")
	dockerConfig := fs.String("docker-config", "", "docker config.json with registry credentials")
	insecure := fs.StringArray("insecure", nil, "registry HOST[:PORT] that may be reached over plain HTTP (repeatable)")
	if code, done := fs.ParseArgs(args, stdout, stderr); done {
		return code
	}
	op, n := fs.Arg(0), fs.NArg()
	switch {
	case op == "push" && n != 3:
		return fs.UsageError(stderr, "push wants FILE.wasm and oci://REGISTRY/REPO:TAG")
	case op == "pull" && (n != 2 || *out == ""):
		return fs.UsageError(stderr, "pull wants SOURCE and -o FILE")
	case op == "sign" && (n != 2 || *signKey == ""):
		return fs.UsageError(stderr, "sign wants FILE.wasm and --sign-key")
	case op != "push" && op != "pull" && op != "sign":
		return fs.UsageError(stderr, "unknown operation %q: want push, pull or sign", op)
	}
	if *sigPolicy == "" && len(*keys) > 0 {
		*sigPolicy = "require"
	}
	pol, err := source.ParseSignaturePolicy(*sigPolicy)
	if err != nil {
		return fs.UsageError(stderr, "--signatures: %v", err)
	}
	f, err := source.New(source.Options{DockerConfig: *dockerConfig, Insecure: *insecure})
	var res string
	if err == nil {
		switch op {
		case "push":
			res, err = f.PushFile(ctx, fs.Arg(1), fs.Arg(2), *signKey)
		case "pull":
			var m *source.Module
			req := source.Request{Source: fs.Arg(1), SHA256: *sha, Pull: source.PullAlways, Signatures: pol, Signature: *sigFile}
			if m, err = f.PullFile(ctx, req, *keys, *out); err == nil {
				res = *out + " " + m.Summary()
			}
		case "sign":
			res, err = source.SignFile(fs.Arg(1), *signKey, *out)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "memif-wasm plugin %s: %v\n", op, err)
		return cli.ExitFailure
	}
	fmt.Fprintln(stdout, res)
	return cli.ExitOK
}
