package main

import (
	"context"
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
	if code, done := fs.ParseNoArgs(args, stdout, stderr); done {
		return code
	}
	bi := daemon.ReadBuildInfo()
	if *jsonOut {
		return cli.PrintJSON(stdout, bi)
	}
	fmt.Fprintln(stdout, bi)
	return cli.ExitOK
}
