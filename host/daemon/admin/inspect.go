package admin

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/memif-wasm/memif-wasm/host"
)

// InspectReport is what memif-wasm inspect says of a module: its --json
// output (schema in docs/json.md) and, through WriteText, its table.
type InspectReport struct {
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

// NewInspectReport makes the report of file from what host.Inspect found.
func NewInspectReport(file string, info host.Info) *InspectReport {
	rep := &InspectReport{
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
	return rep
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// WriteText writes the report as a table for people.
func (r *InspectReport) WriteText(w io.Writer) {
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
