package abi

// Version is the ABI version a guest returns from ExportABIVersion.
// The host refuses any other value.
const Version uint32 = 1

// Names of the guest's exports. Required ones are marked; the rest are optional
// and the host checks for them by name.
const (
	ExportABIVersion = "mw_abi_version" // required: () -> i32, must return Version
	ExportBatch      = "mw_batch"       // required: (max_pkts i32) -> i32 address of the batch area
	ExportWindow     = "mw_window"      // required: (bytes i32) -> i32 page-aligned packet window
	ExportMsgBuf     = "mw_msgbuf"      // required: (len i32) -> i32 address of the message buffer
	ExportInit       = "mw_init"        // required: (cfg_ptr i32, cfg_len i32) -> i32 errno
	ExportProcess    = "mw_process"     // required: (n i32) -> i32 errno
	ExportControl    = "mw_control"     // optional: (ptr i32, len i32) -> i32 reply length or -errno
	ExportStateSave  = "mw_state_save"  // optional: () -> i32 state length (in msgbuf) or -errno
	ExportStateLoad  = "mw_state_load"  // optional: (ptr i32, len i32) -> i32 errno
	ExportInitialize = "_initialize"    // reactor start; run before anything else when present
	ExportMemory     = "memory"         // required: the guest's linear memory
)

// HostModule is the import module of the host functions. None of them is on the
// per-packet path.
const HostModule = "memif_wasm"

// Host functions, imported from HostModule.
const (
	HostLog = "log" // (level i32, ptr i32, len i32): one log line, rate-limited by the host
	// HostTablePut (index i32, key_ptr i32, value_ptr i32) -> i32 queues a put
	// into the plugin's declared table index (declared with DeclFlagWrite);
	// 0 or -errno. The host publishes queued changes after the call (ABI.md §11.5).
	HostTablePut = "table_put"
	// HostTableDelete (index i32, key_ptr i32) -> i32 queues a delete likewise.
	HostTableDelete = "table_delete"
)

// Log levels for HostLog, numbered as log/slog's levels divided by 4.
const (
	LogDebug int32 = -1
	LogInfo  int32 = 0
	LogWarn  int32 = 1
	LogError int32 = 2
)

// WASIModule is the only other import module a guest may use (Go guests need it).
const WASIModule = "wasi_snapshot_preview1"

// WindowAlign is the alignment of the address mw_window returns. It is the
// largest host page size memif-wasm supports (arm64 with 64 KiB pages), and equal
// to the wasm page size, so the host can map shared memory over it.
const WindowAlign = 65536

// BatchAlign is the alignment of the address mw_batch returns.
const BatchAlign = 64

// MaxBurst is the largest n the host passes to mw_process, and so the largest
// max_pkts it asks mw_batch for.
const MaxBurst = 256

// MaxPacket is the largest packet a descriptor can describe: len and cap are u16.
const MaxPacket = 65535
