package source

import (
	"context"
	"crypto"
	"fmt"
	"os"
	"path/filepath"
)

// PushFile pushes the module in file to dest (Push), signed with the
// private key in keyFile unless it is empty (LoadPrivateKey).
func (f *Fetcher) PushFile(ctx context.Context, file, dest, keyFile string) (string, error) {
	wasm, err := readLimited(file, f.opts.MaxSize)
	if err != nil {
		return "", err
	}
	var signer crypto.Signer
	if keyFile != "" {
		if signer, err = LoadPrivateKey(keyFile); err != nil {
			return "", err
		}
	}
	return f.Push(ctx, wasm, dest, signer)
}

// PullFile fetches req with the public keys in keyFiles added to req.Keys
// and writes the module to out (through a temporary file beside it).
func (f *Fetcher) PullFile(ctx context.Context, req Request, keyFiles []string, out string) (*Module, error) {
	for _, k := range keyFiles {
		pk, err := LoadPublicKey(k)
		if err != nil {
			return nil, err
		}
		req.Keys = append(req.Keys, pk)
	}
	m, err := f.Fetch(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := writeFile(out, m.Wasm); err != nil {
		return nil, err
	}
	return m, nil
}

// SignFile writes the detached signature (Sign: base64, as cosign
// sign-blob writes it) of the module in file, made with the private key in
// keyFile, to out, or to file+".sig" when out is empty, and returns where.
func SignFile(file, keyFile, out string) (string, error) {
	wasm, err := readLimited(file, DefaultMaxSize)
	if err != nil {
		return "", err
	}
	signer, err := LoadPrivateKey(keyFile)
	if err != nil {
		return "", err
	}
	sig, err := Sign(signer, wasm)
	if err != nil {
		return "", err
	}
	if out == "" {
		out = file + ".sig"
	}
	return out, writeFile(out, []byte(sig))
}

// Summary is one line about a fetched module: its size and sha256, its
// manifest and format, and who signed it or why it is not verified.
func (m *Module) Summary() string {
	s := fmt.Sprintf("sha256:%s %d bytes", m.SHA256, len(m.Wasm))
	if m.Digest != "" {
		s += fmt.Sprintf(" manifest %s (%s)", m.Digest, m.Format)
	}
	switch {
	case m.SignedBy != "":
		s += " signed by " + m.SignedBy
	case m.Unverified != nil:
		s += fmt.Sprintf(" NOT VERIFIED: %v", m.Unverified)
	}
	return s
}

// writeFile writes b to path (mode 0644) through a temporary file beside it.
func writeFile(path string, b []byte) error {
	if err := writeAtomic(path, b); err != nil {
		return err
	}
	return os.Chmod(filepath.Clean(path), 0o644)
}
