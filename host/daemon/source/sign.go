package source

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Media types and annotations of cosign's signature format.
const (
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	SignatureAnnotation    = "dev.cosignproject.cosign/signature"
	// CosignSignatureType is critical.type of a cosign simple-signing payload.
	CosignSignatureType = "cosign container image signature"
)

// SignatureTag is the tag cosign stores the signatures of the manifest with
// digest d under ("sha256:HEX" -> "sha256-HEX.sig").
func SignatureTag(d string) string { return strings.Replace(d, ":", "-", 1) + ".sig" }

// SignaturePolicy says what a module without a valid signature does.
type SignaturePolicy int

// Signature policies. The zero value is Off.
const (
	SignaturesOff     SignaturePolicy = iota // signatures are not looked at
	SignaturesWarn                           // an unverified module loads; Module.Unverified says why
	SignaturesRequire                        // an unverified module is refused
)

// ParseSignaturePolicy reads "off" (or ""), "warn" or "require".
func ParseSignaturePolicy(s string) (SignaturePolicy, error) {
	switch s {
	case "", "off":
		return SignaturesOff, nil
	case "warn":
		return SignaturesWarn, nil
	case "require":
		return SignaturesRequire, nil
	}
	return 0, fmt.Errorf("signature policy %q: want require, warn or off", s)
}

func (p SignaturePolicy) String() string {
	switch p {
	case SignaturesOff:
		return "off"
	case SignaturesWarn:
		return "warn"
	case SignaturesRequire:
		return "require"
	}
	return fmt.Sprintf("SignaturePolicy(%d)", int(p))
}

// Errors a verification may wrap.
var (
	// ErrUnsigned: no signature was found for the module.
	ErrUnsigned = errors.New("no signature")
	// ErrBadSignature: signatures were found and none verifies with a configured key.
	ErrBadSignature = errors.New("signature does not verify")
)

// PublicKey is a configured verification key.
type PublicKey struct {
	// ID names the key in errors and logs: its file, or its fingerprint.
	ID  string
	key crypto.PublicKey
}

// maxKeyFile bounds a key file: a PEM public key is a few hundred bytes.
const maxKeyFile = 64 << 10

// LoadPublicKey reads a PEM "PUBLIC KEY" (PKIX) file holding an ECDSA P-256
// or Ed25519 key, as cosign writes cosign.pub.
func LoadPublicKey(path string) (PublicKey, error) {
	b, err := readLimited(path, maxKeyFile)
	if err != nil {
		return PublicKey{}, fmt.Errorf("public key: %w", err)
	}
	k, err := ParsePublicKey(b)
	if err != nil {
		return PublicKey{}, fmt.Errorf("public key %s: %w", path, err)
	}
	k.ID = path
	return k, nil
}

// ParsePublicKey reads a PEM "PUBLIC KEY" block (ECDSA P-256 or Ed25519).
func ParsePublicKey(pemBytes []byte) (PublicKey, error) {
	blk, _ := pem.Decode(pemBytes)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return PublicKey{}, errors.New("not a PEM PUBLIC KEY block")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return PublicKey{}, err
	}
	if err := checkKey(k); err != nil {
		return PublicKey{}, err
	}
	sum := sha256.Sum256(blk.Bytes)
	return PublicKey{ID: "sha256:" + hex.EncodeToString(sum[:8]), key: k}, nil
}

func checkKey(k crypto.PublicKey) error {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("ECDSA key on %s: only P-256 is accepted", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("%T key: only ECDSA P-256 and Ed25519 are accepted", k)
	}
	return nil
}

// verify reports whether sig is a signature of msg by k, as cosign makes
// them: ECDSA over SHA-256 (ASN.1), Ed25519 over msg itself.
func (k PublicKey) verify(msg, sig []byte) bool {
	switch pk := k.key.(type) {
	case *ecdsa.PublicKey:
		h := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(pk, h[:], sig)
	case ed25519.PublicKey:
		return ed25519.Verify(pk, msg, sig)
	}
	return false
}

// Sign signs msg with key (an *ecdsa.PrivateKey on P-256 or an
// ed25519.PrivateKey) the way verify checks, and returns the signature
// base64-encoded as cosign stores it.
func Sign(key crypto.Signer, msg []byte) (string, error) {
	var sig []byte
	var err error
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("sign: ECDSA key on %s: only P-256", k.Curve.Params().Name)
		}
		h := sha256.Sum256(msg)
		sig, err = ecdsa.SignASN1(rand.Reader, k, h[:])
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, msg)
	default:
		return "", fmt.Errorf("sign: %T key: only ECDSA P-256 and Ed25519", key)
	}
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// LoadPrivateKey reads an unencrypted PEM "PRIVATE KEY" (PKCS #8) or "EC
// PRIVATE KEY" file holding an ECDSA P-256 or Ed25519 key (openssl genpkey
// writes these). cosign's own encrypted key files are not read: sign with
// cosign itself then.
func LoadPrivateKey(path string) (crypto.Signer, error) {
	b, err := readLimited(path, maxKeyFile)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("private key %s: no PEM block", path)
	}
	var k any
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("private key %s: PEM block %q: want an unencrypted PRIVATE KEY (cosign's encrypted keys: sign with cosign)", path, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key %s: %T cannot sign", path, k)
	}
	if err := checkKey(s.Public()); err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	return s, nil
}

// simpleSigning is cosign's simple-signing payload.
type simpleSigning struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// Payload is the simple-signing payload cosign signs for the manifest with
// digest d in repository repo (REGISTRY/REPO).
func Payload(repo, d string) []byte {
	var p simpleSigning
	p.Critical.Identity.DockerReference = repo
	p.Critical.Image.DockerManifestDigest = d
	p.Critical.Type = CosignSignatureType
	b, _ := json.Marshal(p)
	return b
}

// checkPayload reports whether payload is a cosign simple-signing payload
// for manifest digest d. The identity (docker-reference) is not checked,
// as cosign does not: the digest is what is signed.
func checkPayload(payload []byte, d string) error {
	var p simpleSigning
	if err := json.Unmarshal(payload, &p); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	if p.Critical.Type != CosignSignatureType {
		return fmt.Errorf("payload type %q, want %q", p.Critical.Type, CosignSignatureType)
	}
	if p.Critical.Image.DockerManifestDigest != d {
		return fmt.Errorf("payload signs %q, not this manifest %s", p.Critical.Image.DockerManifestDigest, d)
	}
	return nil
}

// signature is one found signature: what was signed and the base64 signature.
type signature struct {
	payload []byte
	b64     string
}

// verifySignatures returns the ID of the first key that verifies one of
// sigs over what check accepts; ErrUnsigned if there are none, else
// ErrBadSignature with the reasons.
func verifySignatures(keys []PublicKey, sigs []signature, check func([]byte) error) (string, error) {
	if len(sigs) == 0 {
		return "", ErrUnsigned
	}
	if len(keys) == 0 {
		return "", fmt.Errorf("%w: no public key configured", ErrBadSignature)
	}
	var why []string
	for i, s := range sigs {
		if check != nil {
			if err := check(s.payload); err != nil {
				why = append(why, fmt.Sprintf("signature %d: %v", i, err))
				continue
			}
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s.b64))
		if err != nil {
			why = append(why, fmt.Sprintf("signature %d: not base64", i))
			continue
		}
		for _, k := range keys {
			if k.verify(s.payload, raw) {
				return k.ID, nil
			}
		}
		why = append(why, fmt.Sprintf("signature %d: no configured key verifies it", i))
	}
	return "", fmt.Errorf("%w: %s", ErrBadSignature, strings.Join(why, "; "))
}

// readLimited reads a small file whole, refusing one larger than n bytes.
func readLimited(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, n+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > n {
		return nil, fmt.Errorf("%s: more than %d bytes", path, n)
	}
	return b, nil
}
