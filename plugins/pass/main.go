// Command pass is the smallest plugin: every packet goes on (verdict PASS).
// It is the baseline the host's benchmarks measure a Go guest's cost with.
package main

import "github.com/memif-wasm/memif-wasm/sdk"

func process(b *sdk.Burst) { b.SetAll(sdk.Pass) }

func init() { sdk.Handle(process) }

func main() {}
