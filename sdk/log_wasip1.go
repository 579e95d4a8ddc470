//go:build wasip1

package sdk

import "unsafe"

//go:wasmimport memif_wasm log
func hostLogImport(level int32, ptr unsafe.Pointer, n int32)

func hostLog(level int32, msg string) {
	if len(msg) == 0 {
		return
	}
	hostLogImport(level, unsafe.Pointer(unsafe.StringData(msg)), int32(len(msg)))
}
