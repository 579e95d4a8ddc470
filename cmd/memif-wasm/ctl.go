package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/host/daemon/admin"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
)

func init() {
	program.Register(cli.Command{Name: "ctl", Summary: "control a running daemon through its admin API", Run: ctlMain})
}

const ctlUsage = "memif-wasm ctl [--admin-socket PATH | --admin-url [http://]HOST:PORT --admin-token-file FILE] [--json] COMMAND [ARGS]"

const ctlDescription = `Talks to the admin API of a running 'memif-wasm run'. Tables for people, --json for
scripts. Names are TENANT/INTERFACE or TENANT/INTERFACE/PLUGIN.

Commands:
  help                              this text
  list                              tenants, interfaces and their pipelines
  stats [TENANT/IFACE]              packet, verdict and drop counters (of one interface), config reloads and the last failure
  show TENANT/IFACE                 memif details of one interface (regions, rings, peer)
  load TENANT/IFACE FILE|oci://REF  add a plugin (--name, --plugin-config FILE or --plugin-config-inline TEXT, --index)
  unload TENANT/IFACE/PLUGIN        remove a plugin
                                    (load and unload last until the config file is re-read)
  reload TENANT/IFACE/PLUGIN        compile the plugin's file again and swap it in without loss
  control TENANT/IFACE/PLUGIN MSG   send a control message (@FILE: the file's bytes), print the reply
  reload-config                     re-read the daemon's config file (as SIGHUP)` + admin.TableCommandHelp + `
` + ctlViewsHelp + `

The unix socket needs no token: its file's mode and group (run --admin-socket-mode,
--admin-socket-group) decide who may connect. Over TCP every request needs the token.
With --json, errors are JSON on stdout too: {"error": "...", "exit_code": N}.`

const ctlExamples = `memif-wasm ctl list
memif-wasm ctl stats --json
memif-wasm ctl show default/memif0
memif-wasm ctl control default/memif0/acl '{"op":"add","rule":{"id":9,"action":"deny","proto":"udp","dport":"53"}}'
memif-wasm ctl reload default/memif0/acl
memif-wasm ctl load default/memif0 plugins/build/counter.wasm --index 0
memif-wasm ctl --admin-url 127.0.0.1:9191 --admin-token-file /etc/memif-wasm/token list
` + ctlViewsExamples

func ctlMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("memif-wasm ctl", ctlUsage, ctlDescription, ctlExamples)
	socket := fs.String("admin-socket", admin.DefaultSocket(), "admin API unix socket of the daemon")
	url := fs.String("admin-url", "", "admin API over loopback TCP instead: HOST:PORT or http://HOST:PORT")
	tokenFile := fs.String("admin-token-file", "", "file holding the bearer token (TCP only)")
	jsonOut := fs.Bool("json", false, "print JSON instead of tables (errors too)")
	name := fs.String("name", "", "load: plugin name (default: the file name without .wasm)")
	pcfg := fs.String("plugin-config-inline", "", "load: plugin config given on the command line")
	pcfgFile := fs.String("plugin-config", "", "load: plugin config file (as run --plugin-config)")
	index := fs.Int("index", -1, "load: position in the pipeline, 0 first (default: last)")
	// The names before flags were unified across commands stay as aliases.
	fs.Alias("token-file", "admin-token-file")
	fs.Alias("plugin-config-file", "plugin-config")
	fs.Alias("config", "plugin-config-inline")
	failOpen := fs.Bool("fail-open", false, "load: pass packets on when the plugin faults")
	views := addCtlViewFlags(fs)
	if code, done := fs.ParseArgs(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() == 0 {
		return fs.UsageError(stderr, "a command is required (help, list, stats, show, load, unload, reload, control, reload-config)")
	}
	if fs.Arg(0) == "help" {
		fs.Help(stdout)
		return cli.ExitOK
	}
	if fs.Changed("index") && *index < 0 {
		return fs.UsageError(stderr, "--index %d: want 0 (first) or more; leave it out for last", *index)
	}
	ctlFail := func(stderr io.Writer, err error) int { return ctlError(stdout, stderr, *jsonOut, err) }
	token, err := admin.ReadToken(*tokenFile)
	if err != nil {
		fmt.Fprintf(stderr, "memif-wasm ctl: %v\n", err)
		return cli.ExitUsage
	}
	addr := *socket
	if *url != "" {
		addr = *url
		if !strings.Contains(addr, "://") { // HOST:PORT is a TCP address, never a socket path
			addr = "http://" + addr
		}
	}
	c := admin.NewClient(addr, token)
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	if cmd == "table" { // admin.TableCommand does the work
		err := admin.TableCommand(ctx, c, rest, *jsonOut, stdout)
		if ue := (*admin.TableUsageError)(nil); errors.As(err, &ue) {
			return fs.UsageError(stderr, "%s", ue.Msg)
		} else if err != nil {
			return ctlError(stdout, stderr, *jsonOut, err)
		}
		return cli.ExitOK
	}
	if code, ok := ctlView(ctx, c, fs, views, cmd, rest, *jsonOut, stdout, stderr); ok {
		return code
	}
	want := map[string]int{"list": 0, "stats": 1, "reload-config": 0, "show": 1, "load": 2, "unload": 1, "reload": 1, "control": 2}
	n, ok := want[cmd]
	if !ok {
		return fs.UsageError(stderr, "unknown command %q", cmd)
	}
	if len(rest) != n && !(cmd == "stats" && len(rest) == 0) {
		return fs.UsageError(stderr, "%s takes %d argument(s), got %d", cmd, n, len(rest))
	}
	parts := admin.SplitPath
	var out any
	switch cmd {
	case "list":
		ts, err := c.Tenants(ctx)
		if err != nil {
			return ctlFail(stderr, err)
		}
		out = admin.ListV1{SchemaVersion: admin.SchemaVersion, Tenants: ts}
		if !*jsonOut {
			admin.WriteTenants(stdout, ts)
			return cli.ExitOK
		}
	case "stats":
		s, err := c.Stats(ctx)
		if err != nil {
			return ctlFail(stderr, err)
		}
		if len(rest) == 1 {
			p, ok := parts(rest[0], 2)
			if !ok {
				return fs.UsageError(stderr, "stats %q: want TENANT/INTERFACE", rest[0])
			}
			if s, err = admin.FilterSnapshot(s, p[0], p[1]); err != nil {
				return ctlFail(stderr, err)
			}
		}
		out = admin.NewStatsV1(s)
		if !*jsonOut {
			admin.WriteStats(stdout, s)
			return cli.ExitOK
		}
	case "show":
		p, ok := parts(rest[0], 2)
		if !ok {
			return fs.UsageError(stderr, "show %q: want TENANT/INTERFACE", rest[0])
		}
		det, err := c.Interface(ctx, p[0], p[1])
		if err != nil {
			return ctlFail(stderr, err)
		}
		out = admin.NewShowV1(det)
		if !*jsonOut {
			admin.WriteDetails(stdout, det)
			return cli.ExitOK
		}
	case "load":
		p, ok := parts(rest[0], 2)
		if !ok {
			return fs.UsageError(stderr, "load %q: want TENANT/INTERFACE", rest[0])
		}
		// The daemon resolves paths from its own directory: send absolute ones.
		pc := config.Plugin{File: absPath(rest[1]), Name: *name, Config: *pcfg, ConfigFile: absPath(*pcfgFile)}
		if strings.HasPrefix(rest[1], "oci://") {
			pc.File, pc.Source = "", rest[1]
		}
		if *failOpen {
			pc.FailPolicy = "open"
		}
		if err := c.Load(ctx, p[0], p[1], pc, *index); err != nil {
			return ctlFail(stderr, err)
		}
		out = admin.ChangeV1{SchemaVersion: admin.SchemaVersion, Action: "loaded", Plugin: rest[0] + "/" + pc.PluginName()}
	case "unload", "reload":
		p, ok := parts(rest[0], 3)
		if !ok {
			return fs.UsageError(stderr, "%s %q: want TENANT/INTERFACE/PLUGIN", cmd, rest[0])
		}
		if cmd == "unload" {
			err = c.Unload(ctx, p[0], p[1], p[2])
		} else {
			err = c.Reload(ctx, p[0], p[1], p[2])
		}
		if err != nil {
			return ctlFail(stderr, err)
		}
		out = admin.ChangeV1{SchemaVersion: admin.SchemaVersion, Action: cmd + "ed", Plugin: rest[0]}
	case "control":
		p, ok := parts(rest[0], 3)
		if !ok {
			return fs.UsageError(stderr, "control %q: want TENANT/INTERFACE/PLUGIN", rest[0])
		}
		msg := []byte(rest[1])
		if name, ok := strings.CutPrefix(rest[1], "@"); ok {
			// Binary messages (such as the C acl's rule sets) come from a file.
			if msg, err = os.ReadFile(name); err != nil {
				fmt.Fprintf(stderr, "memif-wasm ctl: control message: %v\n", err)
				return cli.ExitUsage
			}
		}
		reply, err := c.Control(ctx, p[0], p[1], p[2], msg)
		if err != nil {
			return ctlFail(stderr, err)
		}
		out = admin.NewControlV1(reply)
		if !*jsonOut {
			if admin.IsText(reply) {
				fmt.Fprintln(stdout, string(reply))
			} else {
				fmt.Fprintf(stdout, "%d bytes: %x\n", len(reply), reply)
			}
			return cli.ExitOK
		}
	case "reload-config":
		changes, err := c.ReloadConfig(ctx)
		if err != nil {
			return ctlFail(stderr, err)
		}
		out = admin.ConfigReloadV1{SchemaVersion: admin.SchemaVersion, Changes: changes}
		if !*jsonOut {
			if len(changes) == 0 {
				fmt.Fprintln(stdout, "no changes")
			}
			for _, ch := range changes {
				fmt.Fprintln(stdout, ch)
			}
			return cli.ExitOK
		}
	}
	if *jsonOut {
		return cli.PrintJSON(stdout, out)
	}
	ch := out.(admin.ChangeV1)
	fmt.Fprintf(stdout, "%s %s\n", ch.Action, ch.Plugin)
	return cli.ExitOK
}

// ctlError reports a failed request, as {"error": ..., "exit_code": 1} on
// stdout under --json (scripts read one stream) and as text on stderr.
func ctlError(stdout, stderr io.Writer, jsonOut bool, err error) int {
	msg := err.Error()
	var ae *admin.APIError
	if errors.As(err, &ae) {
		msg = ae.Message
	} else if !errors.Is(err, admin.ErrNotFoundHere) && !errors.Is(err, admin.ErrTableCommand) {
		msg += " (is 'memif-wasm run' running with this --admin-socket?)"
	}
	if jsonOut {
		cli.PrintJSON(stdout, admin.ErrorV1{SchemaVersion: admin.SchemaVersion, Error: msg, ExitCode: cli.ExitFailure})
	}
	fmt.Fprintf(stderr, "memif-wasm ctl: %s\n", msg)
	return cli.ExitFailure
}

// absPath makes p absolute against ctl's working directory; empty stays empty.
func absPath(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
