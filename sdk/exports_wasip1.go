//go:build wasip1

package sdk

// The ABI v1 exports, on behalf of whichever plugin called Register. The names
// are abi.Export* (a directive cannot use a constant).

//go:wasmexport mw_abi_version
func mwABIVersion() uint32 { return exportABIVersion() }

//go:wasmexport mw_batch
func mwBatch(maxPkts uint32) uint32 { return exportBatch(maxPkts) }

//go:wasmexport mw_window
func mwWindow(bytes uint32) uint32 { return exportWindow(bytes) }

//go:wasmexport mw_msgbuf
func mwMsgBuf(n uint32) uint32 { return exportMsgBuf(n) }

//go:wasmexport mw_init
func mwInit(ptr, n uint32) int32 { return exportInit(ptr, n) }

//go:wasmexport mw_process
func mwProcess(n uint32) int32 { return exportProcess(n) }

//go:wasmexport mw_control
func mwControl(ptr, n uint32) int32 { return exportControl(ptr, n) }

//go:wasmexport mw_state_save
func mwStateSave() int32 { return exportStateSave() }

//go:wasmexport mw_state_load
func mwStateLoad(ptr, n uint32) int32 { return exportStateLoad(ptr, n) }
