package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/memif-wasm/memif-wasm/host"
)

func init() {
	register(command{name: "inspect", summary: "show a plugin's imports, exports, ABI version and memory, and whether it would be admitted", run: inspectMain})
}

const inspectUsage = "memif-wasm inspect FILE.wasm [--json] [--max-pages N] [--plugin-config FILE]"

const inspectDescription = `Reads a .wasm plugin and reports its size and SHA-256, imports, exports, ABI version,
memory limits and hooks, and whether the host would admit it; when not, the reason.
Admission is the real one: the module is validated, compiled and probed with one
instance (mw_init runs with --plugin-config if given). Exit status 0: admitted;
1: refused or unreadable.`

const inspectExamples = `memif-wasm inspect plugins/build/macswap.wasm
memif-wasm inspect plugins/build/acl.wasm --plugin-config acl.rules --json
memif-wasm inspect my-filter.wasm --max-pages 256   # would it fit a 16 MiB cap?`

// inspectReport is inspect's --json output.
type inspectReport struct {
	File        string   `json:"file"`
	Size        int      `json:"size"`
	SHA256      string   `json:"sha256"`
	ABIVersion  uint32   `json:"abi_version"`
	MemoryMin   uint32   `json:"memory_min_pages"`
	MemoryMax   uint32   `json:"memory_max_pages"`
	MaxDeclared bool     `json:"memory_max_declared"`
	WASI        bool     `json:"wasi"`
	Control     bool     `json:"control"`
	State       bool     `json:"state"`
	Imports     []string `json:"imports"`
	Exports     []string `json:"exports"`
	Tables      []string `json:"tables"` // "name kind key=K value=V max=N", as declared
	Admitted    bool     `json:"admitted"`
	RefusalCode string   `json:"refusal_code,omitempty"`
	Refusal     string   `json:"refusal,omitempty"`
}

func inspectMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("inspect", inspectUsage, inspectDescription, inspectExamples)
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	maxPages := fs.Uint32("max-pages", 0, fmt.Sprintf("memory cap in 64 KiB pages to admit against (default %d)", host.DefaultPluginPages))
	cfgFile := fs.String("plugin-config", "", "file whose bytes are handed to mw_init during the probe")
	if code, done := fs.parse(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() != 1 {
		return fs.usageError(stderr, "want exactly one FILE.wasm, got %d arguments", fs.NArg())
	}
	file := fs.Arg(0)
	if fs.Changed("max-pages") && (*maxPages == 0 || *maxPages > host.DefaultMaxMemoryPages) {
		return fs.usageError(stderr, "--max-pages %d: want 1..%d", *maxPages, host.DefaultMaxMemoryPages)
	}
	wasm, err := readFileLimited(file, host.DefaultMaxModuleBytes)
	if err != nil {
		fmt.Fprintf(stderr, "memif-wasm inspect: %v\n", err)
		return exitFailure
	}
	pc := &host.PluginConfig{MaxMemoryPages: *maxPages}
	if *cfgFile != "" {
		if pc.Config, err = os.ReadFile(*cfgFile); err != nil {
			fmt.Fprintf(stderr, "memif-wasm inspect: --plugin-config: %v\n", err)
			return exitFailure
		}
	}
	info, err := host.Inspect(ctx, wasm, pc)
	if err != nil {
		fmt.Fprintf(stderr, "memif-wasm inspect: %s: %v\n", file, err)
		return exitFailure
	}
	if info.Size == 0 { // refused before the engine looked at the bytes
		sum := sha256.Sum256(wasm)
		info.Size, info.SHA256 = len(wasm), hex.EncodeToString(sum[:])
	}
	rep := inspectReport{
		File: file, Size: info.Size, SHA256: info.SHA256, ABIVersion: info.ABIVersion,
		MemoryMin: info.MemoryMin, MemoryMax: info.MemoryMax, MaxDeclared: info.MaxDeclared,
		WASI: info.WASI, Control: info.Control, State: info.State,
		Imports: nonNil(info.Imports), Exports: nonNil(info.Exports), Admitted: info.Admissible,
		Tables: []string{},
	}
	for _, t := range info.Tables {
		rep.Tables = append(rep.Tables, t.String())
	}
	if r := info.Refusal; r != nil {
		rep.RefusalCode = r.Code.String()
		rep.Refusal = r.Reason
		if r.Err != nil {
			rep.Refusal += ": " + r.Err.Error()
		}
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		rep.writeText(stdout)
	}
	if !rep.Admitted {
		return exitFailure
	}
	return exitOK
}

// readFileLimited reads a file the user named, refusing directories and anything larger
// than limit before reading it.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, larger than the %d-byte limit for a module", path, st.Size(), limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (r *inspectReport) writeText(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, a...)) }
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	row("file", "%s", r.File)
	row("size", "%s (%d bytes)", bytesIEC(int64(r.Size)), r.Size)
	row("sha256", "%s", r.SHA256)
	if r.ABIVersion != 0 {
		row("abi version", "%d", r.ABIVersion)
	} else {
		row("abi version", "unknown (the probe did not get that far)")
	}
	maxNote := "declared"
	if !r.MaxDeclared {
		maxNote = "none declared: the cap applies"
	}
	row("memory", "min %d pages (%s), max %d pages (%s, %s)", r.MemoryMin, bytesIEC(int64(r.MemoryMin)<<16),
		r.MemoryMax, bytesIEC(int64(r.MemoryMax)<<16), maxNote)
	row("wasi", "%s", yes(r.WASI))
	row("hooks", "control %s, state save/load %s", yes(r.Control), yes(r.State))
	row("imports", "%s", groupImports(r.Imports))
	row("exports", "%s", listOrNone(r.Exports))
	row("tables", "%s", listOrNone(r.Tables))
	if r.Admitted {
		row("admitted", "yes")
	} else {
		row("admitted", "no: %s: %s", r.RefusalCode, r.Refusal)
	}
	tw.Flush()
}

// groupImports shows "mod.a, mod.b, other.c" as "mod: a, b; other: c".
func groupImports(imports []string) string {
	if len(imports) == 0 {
		return "none"
	}
	var mods []string
	names := map[string][]string{}
	for _, im := range imports {
		mod, name, ok := strings.Cut(im, ".")
		if !ok {
			mod, name = im, ""
		}
		if _, seen := names[mod]; !seen {
			mods = append(mods, mod)
		}
		names[mod] = append(names[mod], name)
	}
	parts := make([]string, len(mods))
	for i, m := range mods {
		parts[i] = m + ": " + strings.Join(names[m], ", ")
	}
	return strings.Join(parts, "; ")
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// bytesIEC formats n bytes with a binary prefix.
func bytesIEC(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
