// Package sdk is the Go guest SDK for memif-wasm packet plugins.
//
// A plugin is a main package that registers a [Plugin] from its init function
// and has an empty main:
//
//	type filter struct{}
//
//	func (filter) Process(b *sdk.Burst) error {
//		for i := range b.Len() {
//			b.Packet(i).Pass()
//		}
//		return nil
//	}
//
//	func init() { sdk.Register(filter{}) }
//	func main() {}
//
// and is built as a WebAssembly reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o filter.wasm .
//
// The SDK exports every function of ABI v1 (see package abi) on the plugin's
// behalf: it owns the batch area, the packet window and the message buffer,
// turns each mw_process call into one [Burst] and writes the verdicts back into
// the descriptors. Optional behaviour (configuration, control messages, state
// handed over on reload) is picked up when the registered value also implements
// [Initer], [Controller], [StateSaver] or [StateLoader].
//
// # Host builds
//
// Only the export and import glue is specific to GOOS=wasip1 (files named
// *_wasip1.go). Everything else, including packet views, header accessors and
// checksum helpers, builds natively, so a plugin's logic is unit-tested with a
// plain go test: build a [Burst] with [Burst.Add], call Process, and look at
// each [Packet]'s verdict and bytes. On the host [Log] writes to standard error.
//
// # Allocation and lifetime
//
// Nothing on the per-burst path allocates: a Burst and its Packets are reused
// for every call, header views are byte slices over the packet, and Decode
// fills a caller-owned [Headers]. A Packet's bytes are valid only during the
// Process call that delivered it; keep a copy to retain them.
//
// # Writing fast, well-behaved Go plugins
//
// A Go guest's garbage collector only advances while the host is calling into
// it. Keep per-packet state out of pointer-holding heap structures: declare
// Headers as a local variable in Process (a stack value needs no write
// barrier), and allocate only in Init and Control, after which the SDK
// finishes any collection the allocation started. Go code burns more of the
// host's fuel per packet than C (see RATIONALE.md and `go test -v -run
// FuelPerPacket ./plugins/`): the example pass costs a few hundred units per
// packet and the acl several thousand, well inside the host's default budget
// per call; heavy cold-path work, such as parsing 1000 JSON rules, needs a
// larger cold-path budget (the daemon's cold_fuel, host.PluginConfig.ColdFuel).
//
// Do not import package net or other packages that link WASI socket or file
// calls: the host refuses the module. Use [ParseMAC] and net/netip instead.
//
// # C plugins
//
// sdk/c/memif_wasm.h is the same ABI for C without libc; plugins/pass/c and
// plugins/acl/c are examples, and plugins/Makefile has the clang command line.
package sdk
