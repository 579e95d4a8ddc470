package daemon

import (
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestBuildInfoOf(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/memif-wasm/memif-wasm", Version: "v1.2.3"},
		Deps: []*debug.Module{
			{Path: "github.com/spf13/pflag", Version: "v1.0.5"},
			{Path: wazeroModule, Version: "v1.12.0"},
		},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "258ea7e0123"},
			{Key: "vcs.time", Value: "2026-12-07T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	got := buildInfoOf(bi)
	want := BuildInfo{Version: "v1.2.3", Revision: "258ea7e0123", Time: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC),
		Modified: true, GoVersion: "go1.26.8", WazeroVersion: "v1.12.0"}
	if got != want {
		t.Fatalf("buildInfoOf = %+v, want %+v", got, want)
	}
	if s := got.String(); s != "memif-wasm v1.2.3 revision 258ea7e0123+modified (2026-12-07T10:00:00Z) go1.26.8 wazero v1.12.0" {
		t.Errorf("String = %q", s)
	}
}

func TestBuildInfoOfDevelWithoutVCS(t *testing.T) {
	got := buildInfoOf(&debug.BuildInfo{GoVersion: "go1.26.8"})
	if got.Version != "(devel)" || got.WazeroVersion != "unknown" || got.Revision != "" {
		t.Fatalf("buildInfoOf(no module info) = %+v", got)
	}
	if s := got.String(); strings.Contains(s, "revision") {
		t.Errorf("String without VCS info mentions a revision: %q", s)
	}
}

func TestReadBuildInfoOfThisBinary(t *testing.T) {
	// A test binary records its toolchain but not its module's
	// dependencies: the wazero version is checked on the real binary
	// (cmd/memif-wasm TestVersionOfBuiltBinary).
	if got := ReadBuildInfo(); !strings.HasPrefix(got.GoVersion, "go1.") {
		t.Errorf("GoVersion = %q", got.GoVersion)
	}
}
