package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/host/daemon"
)

func init() {
	program.Register(cli.Command{Name: "version", Summary: "print the version, VCS revision, Go and wazero versions", Run: versionMain})
}

func versionMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("memif-wasm version", "memif-wasm version [--json]",
		"Prints the build: module version, VCS revision and time, Go and wazero versions\n(also 'memif-wasm --version', the memif_wasm_build_info metric and the startup log line).", "memif-wasm version\nmemif-wasm --version\nmemif-wasm version --json")
	jsonOut := fs.Bool("json", false, "print JSON")
	if code, done := fs.ParseArgs(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		return fs.UsageError(stderr, "unexpected argument %q", fs.Arg(0))
	}
	bi := daemon.ReadBuildInfo()
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(bi)
		return cli.ExitOK
	}
	fmt.Fprintln(stdout, bi)
	return cli.ExitOK
}
