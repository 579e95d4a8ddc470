package host

import (
	"errors"
	"fmt"
)

// Sentinel errors. Methods document which of them their errors may wrap.
var (
	// ErrClosed is returned by operations on a closed Engine, Module, Instance or Pipeline.
	ErrClosed = errors.New("host: closed")
	// ErrNoZeroCopy is returned by MapWindow when the region cannot be shown to
	// the guest in place (too large for the window, not page-aligned, or the
	// platform lacks shared mappings).
	ErrNoZeroCopy = errors.New("host: zero-copy placement not possible")
	// ErrNotSupported is returned when a plugin lacks the optional export a call needs.
	ErrNotSupported = errors.New("host: plugin does not export this hook")
	// ErrTooLarge is returned when a message does not fit the plugin's message buffer.
	ErrTooLarge = errors.New("host: message larger than the plugin's message buffer")
	// ErrReshapeStale is returned by a reshape's commit when a pipeline
	// changed (a Replace, another reshape) or closed after PrepareReshape
	// looked at it.
	ErrReshapeStale = errors.New("host: the pipeline changed since the reshape was prepared")
)

// AdmissionCode classifies why a module was refused.
type AdmissionCode uint8

// Admission codes; they are stable and suit a metrics label.
const (
	AdmitMalformed   AdmissionCode = iota + 1 // not a wasm binary, or framing broken
	AdmitTooLarge                             // the binary exceeds EngineConfig.MaxModuleBytes
	AdmitImport                               // an import outside the host module and the allowed WASI functions
	AdmitExport                               // a required export is missing or of the wrong kind
	AdmitSignature                            // an export has the wrong parameter or result types
	AdmitMemory                               // memory missing, imported, shared, 64-bit, or over the cap
	AdmitCompile                              // wazero refused to compile (validation failed)
	AdmitABIVersion                           // mw_abi_version returned another version
	AdmitInstantiate                          // the probe instance failed (trap in start or _initialize, bad addresses)
	AdmitFuel                                 // the fuel rewriter refused the module
	AdmitConfig                               // the PluginConfig is inconsistent (sizes, budgets, tenant allow-list)
	AdmitTables                               // a table declaration is malformed, incompatible, too large or over budget
)

var admissionNames = [...]string{"", "malformed", "too_large", "import", "export", "signature", "memory", "compile", "abi_version", "instantiate", "fuel", "config", "tables"}

// String returns the code's snake_case name.
func (c AdmissionCode) String() string {
	if int(c) < len(admissionNames) && c != 0 {
		return admissionNames[c]
	}
	return "unknown"
}

// AdmissionError is returned when a module is refused. It names the module
// and the reason; Err, when set, is the underlying cause.
type AdmissionError struct {
	Module string
	Code   AdmissionCode
	Reason string
	Err    error
}

func (e *AdmissionError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("admit plugin %q: %s: %v", e.Module, e.Reason, e.Err)
	}
	return fmt.Sprintf("admit plugin %q: %s", e.Module, e.Reason)
}

func (e *AdmissionError) Unwrap() error { return e.Err }

// GuestError is returned when a guest call traps, exits, or returns a negative
// errno. Op names the export that failed.
type GuestError struct {
	Module string
	Op     string
	Errno  int32 // the -errno the guest returned, 0 for a trap
	Err    error // the trap (from wazero) or the abi.Errno
	// Reason is the guest's own account of a refusal: the last warning or
	// error it logged (or wrote to stderr) during mw_init or mw_control
	// before returning -errno, such as "config: acl rule 0: proto \"tpc\"".
	// Empty when it said nothing.
	Reason string
}

func (e *GuestError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("plugin %q: %s: %v: %s", e.Module, e.Op, e.Err, e.Reason)
	}
	return fmt.Sprintf("plugin %q: %s: %v", e.Module, e.Op, e.Err)
}

func (e *GuestError) Unwrap() error { return e.Err }

// Trapped reports whether the guest trapped or exited rather than returning an error code.
func (e *GuestError) Trapped() bool { return e.Errno == 0 }

// ErrFuelExhausted is wrapped by a *GuestError when a metered call ran out of fuel.
var ErrFuelExhausted = errors.New("host: plugin ran out of fuel")

// ErrStackExhausted is wrapped by a *GuestError when a metered call nested
// deeper than its stack budget (PluginConfig.Stack).
var ErrStackExhausted = errors.New("host: plugin exceeded its call stack budget")

// ErrMemoryCap is wrapped by a *GuestError when a call failed after the guest
// had grown its memory to its cap (so its next memory.grow failed).
var ErrMemoryCap = errors.New("host: plugin tried to grow its memory past its cap")

// ErrABIViolation is wrapped by a plugin's fault when it wrote descriptors
// the host refused (see Reason); those packets are ABORTED.
var ErrABIViolation = errors.New("host: plugin broke the ABI")

// ErrQuarantined is wrapped by Pipeline.Fault while a plugin is quarantined.
var ErrQuarantined = errors.New("host: plugin quarantined after repeated faults")

// LayoutError is returned when a guest hands out addresses that break the ABI:
// misaligned, outside its memory, or overlapping each other.
type LayoutError struct {
	Module string
	What   string
	Reason string
}

func (e *LayoutError) Error() string {
	return fmt.Sprintf("plugin %q: %s: %s", e.Module, e.What, e.Reason)
}
