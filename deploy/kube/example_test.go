package kube_test

import (
	"fmt"
	"strings"

	"github.com/memif-wasm/memif-wasm/deploy/kube"
)

// A manifest with a misspelt field is refused as the API server's strict
// field validation would refuse it.
func ExampleDecode() {
	_, err := kube.Decode(strings.NewReader(`apiVersion: v1
kind: ConfigMap
metadata:
  name: memif-wasm
  namespace: memif-wasm
datta:
  memif-wasm.yaml: ""
`))
	fmt.Println(err)
	// Output: document 1: ConfigMap: strict decoding error: unknown field "datta"
}
