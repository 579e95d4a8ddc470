package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// TableCommandHelp is the part of `memif-wasm ctl`'s help about tables.
const TableCommandHelp = `
  table list                        every table: kind, sizes, entries, updates, readers
  table show T/IFACE/TABLE          one table
  table get T/IFACE/TABLE KEY       one entry (KEY: hex, ip4:A.B.C.D[/LEN], ip6:ADDR[/LEN], u32:N, u64:N, str:TEXT)
  table put T/IFACE/TABLE KEY VALUE add or replace an entry (a full table refuses)
  table delete T/IFACE/TABLE KEY    remove an entry
  table clear T/IFACE/TABLE         remove every entry
  table dump T/IFACE/TABLE          every entry, hex "key value" per line
  table load T/IFACE/TABLE FILE     apply a file of changes at once, all or nothing: JSON lines
                                    {"op":"put","key":K,"value":V} / {"op":"delete","key":K},
                                    or CSV (FILE ending in .csv) "key,value" / "delete,key"`

// TableUsageError is a `ctl table` command line that makes no sense.
type TableUsageError struct{ Msg string }

func (e *TableUsageError) Error() string { return e.Msg }

// ErrTableCommand is wrapped by the errors TableCommand finds itself (no
// such entry, a bad file), as opposed to the daemon's answers.
var ErrTableCommand = errors.New("ctl table")

// TableCommand runs `ctl table ARGS` against c, printing to stdout (JSON
// when jsonOut). Errors are *TableUsageError, wrap ErrTableCommand, or come
// from the API.
func TableCommand(ctx context.Context, c *Client, args []string, jsonOut bool, stdout io.Writer) error {
	usage := func(format string, a ...any) error { return &TableUsageError{fmt.Sprintf("table: "+format, a...)} }
	if len(args) == 0 {
		return usage("a subcommand is required (list, show, get, put, delete, clear, dump, load)")
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
	var ref TableRef
	if n > 0 {
		var err error
		if ref, err = ParseTableRef(rest[0]); err != nil {
			return usage("%v", err)
		}
	}
	var out any
	var err error
	switch sub {
	case "list":
		var ts []TableInfo
		if ts, err = c.Tables(ctx); err == nil && !jsonOut {
			WriteTables(stdout, ts)
			return nil
		}
		out = ts
	case "show":
		var t *TableInfo
		if t, err = c.Table(ctx, ref); err == nil && !jsonOut {
			WriteTables(stdout, []TableInfo{*t})
			return nil
		}
		out = t
	case "get":
		var g *TableGetReply
		if g, err = c.TableGet(ctx, ref, rest[1]); err == nil && !jsonOut {
			if !g.Found {
				return fmt.Errorf("%w: no such entry", ErrTableCommand)
			}
			fmt.Fprintln(stdout, g.Value)
			return nil
		}
		out = g
	case "put", "delete":
		op := TableOp{Op: sub, Key: rest[1]}
		if sub == "put" {
			op.Value = rest[2]
		}
		out, err = c.TableOps(ctx, ref, []TableOp{op})
	case "clear":
		err = c.TableClear(ctx, ref)
		out = &TableOpsReply{Applied: 1}
	case "dump":
		var es []TableEntry
		if es, err = c.TableEntries(ctx, ref); err == nil && !jsonOut {
			WriteTableEntries(stdout, es)
			return nil
		}
		out = es
	case "load":
		ops, ferr := readTableOpsFile(rest[1])
		if ferr != nil {
			return ferr
		}
		out, err = c.TableOps(ctx, ref, ops)
	}
	if err != nil {
		return err
	}
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if r, ok := out.(*TableOpsReply); ok {
		fmt.Fprintf(stdout, "applied %d\n", r.Applied)
	}
	return nil
}

func readTableOpsFile(path string) ([]TableOp, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTableCommand, err)
	}
	defer f.Close()
	ops, err := ReadTableOps(f, strings.HasSuffix(path, ".csv"))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w (nothing applied)", ErrTableCommand, path, err)
	}
	return ops, nil
}

// IsText reports whether b prints as it is: UTF-8 without control
// characters other than tab and newlines (ctl prints a control reply so,
// else as hex).
func IsText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return false
		}
	}
	return true
}
