package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/host/daemon/bench"
)

// benchForward runs memif-wasm bench --forward (package bench does the work).
func benchForward(ctx context.Context, fs *cli.FlagSet, stdout, stderr io.Writer, o bench.ForwardOptions, jsonOut bool) int {
	plan, err := bench.NewForwardPlan(o)
	var usage bench.UsageError
	switch {
	case errors.As(err, &usage):
		return fs.UsageError(stderr, "%v", err)
	case err != nil:
		return cli.Fail(stderr, "memif-wasm bench", err)
	}
	if plan.Dir, err = os.MkdirTemp("", "memif-wasm-forward"); err != nil {
		return cli.Fail(stderr, "memif-wasm bench", err)
	}
	defer os.RemoveAll(plan.Dir)
	plan.Stderr = stderr
	if !jsonOut && isTerminal(stderr) {
		plan.Progress = func(n int) { fmt.Fprintf(stderr, "\r%d runs done\x1b[K", n) }
		defer fmt.Fprint(stderr, "\r\x1b[K")
	}
	if !jsonOut {
		fmt.Fprintln(stdout, bench.ForwardHeader(plan))
	}
	rows, err := bench.RunForward(ctx, plan)
	if err != nil {
		return cli.Fail(stderr, "memif-wasm bench", err)
	}
	if jsonOut {
		return cli.PrintJSON(stdout, rows)
	}
	bench.WriteForwardTable(stdout, rows)
	return cli.ExitOK
}
