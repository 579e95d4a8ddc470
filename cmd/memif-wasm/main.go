// Command memif-wasm runs memif packet pipelines made of sandboxed WebAssembly plugins.
//
// Each subcommand lives in its own file and adds itself to the program from an init
// function (program.Register), so that subcommands can be written and tested
// independently; the plumbing (dispatch, help, flag sets, exit codes) is in internal/cli.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
)

// program is memif-wasm with its subcommands, which register themselves.
var program = &cli.Program{Name: "memif-wasm", Summary: "memif-wasm runs memif packet pipelines of sandboxed WebAssembly plugins."}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args (without the program name) and returns the
// process exit code. ctx is cancelled on SIGINT or SIGTERM.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "--version" {
		args = []string{"version"}
	}
	return program.Run(ctx, args, stdout, stderr)
}
