package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/host/daemon/admin"
)

// ctlTableUsage is appended to ctl's own command list.
const ctlTableUsage = `
  table list                        every table: kind, sizes, entries, updates, readers
  table show T/IFACE/TABLE          one table
  table get T/IFACE/TABLE KEY       one entry (KEY: hex, ip4:A.B.C.D, ip6:ADDR, u32:N, u64:N, str:TEXT)
  table put T/IFACE/TABLE KEY VALUE add or replace an entry (a full table refuses)
  table delete T/IFACE/TABLE KEY    remove an entry
  table clear T/IFACE/TABLE         remove every entry
  table dump T/IFACE/TABLE          every entry, hex "key value" per line
  table load T/IFACE/TABLE FILE     apply a file of changes at once, all or nothing: JSON lines
                                    {"op":"put","key":K,"value":V} / {"op":"delete","key":K},
                                    or CSV (FILE ending in .csv) "key,value" / "delete,key"`

// ctlTable runs `ctl table ...` against c; the logic is admin's.
func ctlTable(ctx context.Context, c *admin.Client, args []string, jsonOut bool, stdout, stderr io.Writer) int {
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "memif-wasm ctl table: %s\n%s\n", fmt.Sprintf(format, a...), strings.TrimPrefix(ctlTableUsage, "\n"))
		return cli.ExitUsage
	}
	if len(args) == 0 {
		return usage("a subcommand is required")
	}
	want := map[string]int{"list": 0, "show": 1, "get": 2, "put": 3, "delete": 2, "clear": 1, "dump": 1, "load": 2}
	sub, rest := args[0], args[1:]
	n, ok := want[sub]
	if !ok {
		return usage("unknown subcommand %q", sub)
	}
	if len(rest) != n {
		return usage("%s takes %d argument(s), got %d", sub, n, len(rest))
	}
	var ref admin.TableRef
	if n > 0 {
		var err error
		if ref, err = admin.ParseTableRef(rest[0]); err != nil {
			return usage("%v", err)
		}
	}
	var out any
	var err error
	switch sub {
	case "list":
		var ts []admin.TableInfo
		if ts, err = c.Tables(ctx); err == nil && !jsonOut {
			admin.WriteTables(stdout, ts)
			return cli.ExitOK
		}
		out = ts
	case "show":
		var t *admin.TableInfo
		if t, err = c.Table(ctx, ref); err == nil && !jsonOut {
			admin.WriteTables(stdout, []admin.TableInfo{*t})
			return cli.ExitOK
		}
		out = t
	case "get":
		var g *admin.TableGetReply
		if g, err = c.TableGet(ctx, ref, rest[1]); err == nil && !jsonOut {
			if !g.Found {
				fmt.Fprintln(stderr, "memif-wasm ctl: no such entry")
				return cli.ExitFailure
			}
			fmt.Fprintln(stdout, g.Value)
			return cli.ExitOK
		}
		out = g
	case "put", "delete":
		op := admin.TableOp{Op: sub, Key: rest[1]}
		if sub == "put" {
			op.Value = rest[2]
		}
		out, err = c.TableOps(ctx, ref, []admin.TableOp{op})
	case "clear":
		err = c.TableClear(ctx, ref)
		out = admin.TableOpsReply{Applied: 1}
	case "dump":
		var es []admin.TableEntry
		if es, err = c.TableEntries(ctx, ref); err == nil && !jsonOut {
			admin.WriteTableEntries(stdout, es)
			return cli.ExitOK
		}
		out = es
	case "load":
		f, ferr := os.Open(rest[1])
		if ferr != nil {
			fmt.Fprintf(stderr, "memif-wasm ctl: %v\n", ferr)
			return cli.ExitUsage
		}
		ops, perr := admin.ReadTableOps(f, strings.HasSuffix(rest[1], ".csv"))
		f.Close()
		if perr != nil {
			fmt.Fprintf(stderr, "memif-wasm ctl: %s: %v (nothing applied)\n", rest[1], perr)
			return cli.ExitFailure
		}
		out, err = c.TableOps(ctx, ref, ops)
	}
	if err != nil {
		return ctlError(stdout, stderr, jsonOut, err)
	}
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
		return cli.ExitOK
	}
	if r, ok := out.(*admin.TableOpsReply); ok {
		fmt.Fprintf(stdout, "applied %d\n", r.Applied)
	} else {
		fmt.Fprintln(stdout, "ok")
	}
	return cli.ExitOK
}
