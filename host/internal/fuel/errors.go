package fuel

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error Instrument returns is an *Error wrapping one of
// them, so callers can branch with errors.Is and still log the details.
var (
	// ErrMalformed means the input is not a well-formed wasm binary.
	ErrMalformed = errors.New("malformed wasm")
	// ErrUnsupported means the input uses a section, opcode or encoding the
	// rewriter does not know. It fails closed rather than guess.
	ErrUnsupported = errors.New("unsupported wasm feature")
	// ErrIndex means the input references a global or local that does not
	// exist. Such a reference could become valid once the fuel global or
	// the bulk-cost local is added, letting a module refill its own fuel.
	ErrIndex = errors.New("index out of range")
	// ErrExportClash means the input already exports ExportName or
	// StackExportName, the names the rewrite exports its globals under.
	ErrExportClash = errors.New("export name reserved for metering already used")
	// ErrConfig means the Config is invalid.
	ErrConfig = errors.New("invalid fuel config")
)

// Error describes why Instrument refused a module and where.
type Error struct {
	// Section is the name of the section being read ("code", "import", ...),
	// or "" for the module header and Config errors.
	Section string
	// Func is the index (in the function index space) of the function whose
	// body is being read, or -1.
	Func int
	// Offset is the byte offset in the input where the problem was found.
	Offset int
	// Reason says what was wrong.
	Reason string
	// Err is one of the package's sentinel errors.
	Err error
}

func (e *Error) Error() string {
	where := "module"
	if e.Section != "" {
		where = e.Section + " section"
	}
	if e.Func >= 0 {
		where += fmt.Sprintf(", function %d", e.Func)
	}
	return fmt.Sprintf("fuel: %s at offset %#x: %s: %v", where, e.Offset, e.Reason, e.Err)
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }
