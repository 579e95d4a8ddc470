package source_test

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/memif-wasm/memif-wasm/host/daemon/source"
)

// Push a module to a registry signed with an Ed25519 key, then fetch it
// with that key's signature required.
func ExampleFetcher_Push() {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := "oci://" + strings.TrimPrefix(srv.URL, "http://") + "/plugins/empty:v1"

	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)) // a fixed key, for the example only
	der, _ := x509.MarshalPKIXPublicKey(priv.Public())
	pub, _ := source.ParsePublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))

	f, _ := source.New(source.Options{}) // a loopback registry may be plain HTTP
	wasm := []byte("\x00asm\x01\x00\x00\x00")
	digest, err := f.Push(context.Background(), wasm, ref, priv)
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := f.Fetch(context.Background(), source.Request{
		Source: ref, Signatures: source.SignaturesRequire, Keys: []source.PublicKey{pub},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Digest == digest, m.Format, len(m.Wasm), m.SignedBy == pub.ID)
	// Output: true wasm 8 true
}
