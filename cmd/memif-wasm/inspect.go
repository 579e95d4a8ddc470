package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/daemon/admin"
)

func init() {
	program.Register(cli.Command{Name: "inspect", Summary: "show a plugin's imports, exports, ABI version and memory, and whether it would be admitted", Run: inspectMain})
}

const inspectUsage = "memif-wasm inspect FILE.wasm [--json] [--max-pages N] [--plugin-config FILE]"

const inspectDescription = `Reads a .wasm plugin and reports its size and SHA-256, imports, exports, ABI version,
memory limits and hooks, and whether the host would admit it; when not, the reason.
Admission is the real one: the module is validated, compiled and probed with one
instance (mw_init runs with --plugin-config if given). Exit status 0: admitted;
1: refused or unreadable.`

const inspectExamples = `memif-wasm inspect plugins/build/macswap.wasm
memif-wasm inspect plugins/build/acl.wasm --plugin-config plugins/acl/acl.example.json --json
memif-wasm inspect my-filter.wasm --max-pages 256   # would it fit a 16 MiB cap?`

func inspectMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("memif-wasm inspect", inspectUsage, inspectDescription, inspectExamples)
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	maxPages := fs.Uint32("max-pages", 0, fmt.Sprintf("memory cap in 64 KiB pages to admit against (default %d)", host.DefaultPluginPages))
	cfgFile := fs.String("plugin-config", "", "file whose bytes are handed to mw_init during the probe")
	if code, done := fs.ParseArgs(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() != 1 {
		return fs.UsageError(stderr, "want exactly one FILE.wasm, got %d arguments", fs.NArg())
	}
	file := fs.Arg(0)
	if fs.Changed("max-pages") && (*maxPages == 0 || *maxPages > host.DefaultMaxMemoryPages) {
		return fs.UsageError(stderr, "--max-pages %d: want 1..%d", *maxPages, host.DefaultMaxMemoryPages)
	}
	wasm, err := host.ReadModuleFile(file, host.DefaultMaxModuleBytes)
	if err != nil {
		return cli.Fail(stderr, "memif-wasm inspect", err)
	}
	pc := &host.PluginConfig{MaxMemoryPages: *maxPages}
	if *cfgFile != "" {
		if pc.Config, err = os.ReadFile(*cfgFile); err != nil {
			fmt.Fprintf(stderr, "memif-wasm inspect: --plugin-config: %v\n", err)
			return cli.ExitFailure
		}
	}
	info, err := host.Inspect(ctx, wasm, pc)
	if err != nil {
		fmt.Fprintf(stderr, "memif-wasm inspect: %s: %v\n", file, err)
		return cli.ExitFailure
	}
	if info.Size == 0 { // refused before the engine looked at the bytes
		sum := sha256.Sum256(wasm)
		info.Size, info.SHA256 = len(wasm), hex.EncodeToString(sum[:])
	}
	rep := admin.NewInspectReport(file, info)
	if *jsonOut {
		cli.PrintJSON(stdout, rep)
	} else {
		rep.WriteText(stdout)
	}
	if !rep.Admitted {
		return cli.ExitFailure
	}
	return cli.ExitOK
}
