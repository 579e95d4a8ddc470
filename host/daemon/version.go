package daemon

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// BuildInfo says which build of memif-wasm is running, from the build
// information the Go toolchain embeds in every binary (runtime/debug), so
// that no release step has to stamp it and a binary built by `go install`
// or from a checkout reports the same facts.
type BuildInfo struct {
	// Version is the main module's version: a tag for `go install ...@v1.2.3`,
	// "(devel)" for a build from a checkout.
	Version string `json:"version"`
	// Revision and Time are the VCS commit and its time when the binary was
	// built from a checkout; Modified says the work tree had changes.
	Revision string    `json:"revision,omitempty"`
	Time     time.Time `json:"time,omitzero"`
	Modified bool      `json:"modified,omitempty"`
	// GoVersion is the toolchain that built the binary, WazeroVersion the
	// version of the WebAssembly runtime linked into it.
	GoVersion     string `json:"go_version"`
	WazeroVersion string `json:"wazero_version"`
}

const wazeroModule = "github.com/tetratelabs/wazero"

// ReadBuildInfo returns the running binary's BuildInfo. Fields the binary
// does not record (a test binary has no VCS stamp) are empty, and
// Version is "unknown" when there is no build information at all.
func ReadBuildInfo() BuildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return BuildInfo{Version: "unknown", GoVersion: runtime.Version(), WazeroVersion: "unknown"}
	}
	return buildInfoOf(bi)
}

func buildInfoOf(bi *debug.BuildInfo) BuildInfo {
	out := BuildInfo{Version: bi.Main.Version, GoVersion: bi.GoVersion, WazeroVersion: "unknown"}
	if out.Version == "" {
		out.Version = "(devel)"
	}
	for _, d := range bi.Deps {
		if d.Path != wazeroModule {
			continue
		}
		out.WazeroVersion = d.Version
		if d.Replace != nil {
			out.WazeroVersion = d.Replace.Version + " (replaced by " + d.Replace.Path + ")"
		}
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			out.Revision = s.Value
		case "vcs.time":
			out.Time, _ = time.Parse(time.RFC3339, s.Value)
		case "vcs.modified":
			out.Modified = s.Value == "true"
		}
	}
	return out
}

// String is the one line `memif-wasm version` prints.
func (b BuildInfo) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "memif-wasm %s", b.Version)
	if b.Revision != "" {
		fmt.Fprintf(&s, " revision %s", b.Revision)
		if b.Modified {
			s.WriteString("+modified")
		}
		if !b.Time.IsZero() {
			fmt.Fprintf(&s, " (%s)", b.Time.UTC().Format(time.RFC3339))
		}
	}
	fmt.Fprintf(&s, " %s wazero %s", b.GoVersion, b.WazeroVersion)
	return s.String()
}
