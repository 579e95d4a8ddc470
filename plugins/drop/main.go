// Command drop drops every packet (verdict DROP): a sink, and the plugin that
// shows a pipeline stops at the first stage that drops.
package main

import "github.com/memif-wasm/memif-wasm/sdk"

func process(b *sdk.Burst) { b.SetAll(sdk.Drop) }

func init() { sdk.Handle(process) }

func main() {}
