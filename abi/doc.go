// Package abi is the contract between the memif-wasm host and a packet plugin
// compiled to WebAssembly: export names, the batch layout in the guest's linear
// memory, verdicts, flags and error codes. ABI.md beside this file is the
// specification a plugin author reads; this package is its machine form, and the
// golden tests pin every offset.
//
// The package uses only the standard library and builds both for the host and
// for GOOS=wasip1, so the Go SDK and the host share one definition.
package abi
