package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/memif-wasm/memif-wasm/host/daemon/admin"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
)

func init() {
	register(command{name: "ctl", summary: "control a running daemon through its admin API", run: ctlMain})
}

const ctlUsage = "memif-wasm ctl [--admin-socket PATH | --admin-url URL --token-file FILE] [--json] COMMAND [ARGS]"

const ctlDescription = `Talks to the admin API of a running 'memif-wasm run'. Tables for people, --json for
scripts. Names are TENANT/INTERFACE or TENANT/INTERFACE/PLUGIN.

Commands:
  list                              tenants, interfaces and their pipelines
  stats                             packet, verdict and drop counters, config reloads and the last failure
  show TENANT/IFACE                 memif details of one interface (regions, rings, peer)
  load TENANT/IFACE FILE            add a plugin (--name, --config or --plugin-config-file, --index)
  unload TENANT/IFACE/PLUGIN        remove a plugin
                                    (load and unload last until the config file is re-read)
  reload TENANT/IFACE/PLUGIN        compile the plugin's file again and swap it in without loss
  control TENANT/IFACE/PLUGIN MSG   send a control message (@FILE: the file's bytes), print the reply
  reload-config                     re-read the daemon's config file (as SIGHUP)` + ctlTableUsage

const ctlExamples = `memif-wasm ctl list
memif-wasm ctl stats --json
memif-wasm ctl show default/memif0
memif-wasm ctl control default/memif0/acl '{"op":"add","rule":{"id":9,"action":"deny","proto":"udp","dport":"53"}}'
memif-wasm ctl reload default/memif0/acl
memif-wasm ctl load default/memif0 plugins/build/counter.wasm --index 0
memif-wasm ctl table put default/memif0/routes ip4:10.0.0.1 u32:2
memif-wasm ctl table load default/memif0/routes routes.csv
memif-wasm ctl --admin-url http://127.0.0.1:9191 --token-file /etc/memif-wasm/token list`

func ctlMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("ctl", ctlUsage, ctlDescription, ctlExamples)
	socket := fs.String("admin-socket", defaultAdminSocket(), "admin API unix socket of the daemon")
	url := fs.String("admin-url", "", "admin API over loopback TCP instead, e.g. http://127.0.0.1:9191")
	tokenFile := fs.String("token-file", "", "file holding the bearer token")
	jsonOut := fs.Bool("json", false, "print JSON instead of tables")
	name := fs.String("name", "", "load: plugin name (default: the file name without .wasm)")
	pcfg := fs.String("config", "", "load: plugin config given inline")
	pcfgFile := fs.String("plugin-config-file", "", "load: plugin config file")
	index := fs.Int("index", -1, "load: position in the pipeline (default: last)")
	failOpen := fs.Bool("fail-open", false, "load: pass packets on when the plugin faults")
	if code, done := fs.parse(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() == 0 {
		return fs.usageError(stderr, "a command is required (list, stats, show, load, unload, reload, control, reload-config)")
	}
	token, err := readToken(*tokenFile)
	if err != nil {
		fmt.Fprintf(stderr, "memif-wasm ctl: %v\n", err)
		return exitUsage
	}
	addr := *socket
	if *url != "" {
		addr = *url
	}
	c := admin.NewClient(addr, token)
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	if cmd == "table" {
		return ctlTable(ctx, c, rest, *jsonOut, stdout, stderr)
	}
	want := map[string]int{"list": 0, "stats": 0, "reload-config": 0, "show": 1, "load": 2, "unload": 1, "reload": 1, "control": 2}
	n, ok := want[cmd]
	if !ok {
		return fs.usageError(stderr, "unknown command %q", cmd)
	}
	if len(rest) != n {
		return fs.usageError(stderr, "%s takes %d argument(s), got %d", cmd, n, len(rest))
	}
	parts := func(s string, k int) ([]string, bool) {
		p := strings.Split(s, "/")
		if len(p) != k {
			return nil, false
		}
		for _, x := range p {
			if x == "" {
				return nil, false
			}
		}
		return p, true
	}
	var out any
	switch cmd {
	case "list":
		ts, err := c.Tenants(ctx)
		if err != nil {
			return ctlFail(stderr, err)
		}
		out = ts
		if !*jsonOut {
			admin.WriteTenants(stdout, ts)
			return exitOK
		}
	case "stats":
		s, err := c.Stats(ctx)
		if err != nil {
			return ctlFail(stderr, err)
		}
		out = s
		if !*jsonOut {
			admin.WriteStats(stdout, s)
			return exitOK
		}
	case "show":
		p, ok := parts(rest[0], 2)
		if !ok {
			return fs.usageError(stderr, "show %q: want TENANT/INTERFACE", rest[0])
		}
		det, err := c.Interface(ctx, p[0], p[1])
		if err != nil {
			return ctlFail(stderr, err)
		}
		out = det
		if !*jsonOut {
			admin.WriteDetails(stdout, det)
			return exitOK
		}
	case "load":
		p, ok := parts(rest[0], 2)
		if !ok {
			return fs.usageError(stderr, "load %q: want TENANT/INTERFACE", rest[0])
		}
		// The daemon resolves paths from its own directory: send absolute ones.
		pc := config.Plugin{File: absPath(rest[1]), Name: *name, Config: *pcfg, ConfigFile: absPath(*pcfgFile)}
		if *failOpen {
			pc.FailPolicy = "open"
		}
		if err := c.Load(ctx, p[0], p[1], pc, *index); err != nil {
			return ctlFail(stderr, err)
		}
		out = map[string]string{"loaded": pc.PluginName()}
	case "unload", "reload":
		p, ok := parts(rest[0], 3)
		if !ok {
			return fs.usageError(stderr, "%s %q: want TENANT/INTERFACE/PLUGIN", cmd, rest[0])
		}
		if cmd == "unload" {
			err = c.Unload(ctx, p[0], p[1], p[2])
		} else {
			err = c.Reload(ctx, p[0], p[1], p[2])
		}
		if err != nil {
			return ctlFail(stderr, err)
		}
		out = map[string]string{cmd + "ed": p[2]}
	case "control":
		p, ok := parts(rest[0], 3)
		if !ok {
			return fs.usageError(stderr, "control %q: want TENANT/INTERFACE/PLUGIN", rest[0])
		}
		msg := []byte(rest[1])
		if name, ok := strings.CutPrefix(rest[1], "@"); ok {
			// Binary messages (such as the C acl's rule sets) come from a file.
			if msg, err = os.ReadFile(name); err != nil {
				fmt.Fprintf(stderr, "memif-wasm ctl: control message: %v\n", err)
				return exitUsage
			}
		}
		reply, err := c.Control(ctx, p[0], p[1], p[2], msg)
		if err != nil {
			return ctlFail(stderr, err)
		}
		out = admin.NewControlReply(reply)
		if !*jsonOut {
			if isText(reply) {
				fmt.Fprintln(stdout, string(reply))
			} else {
				fmt.Fprintf(stdout, "%d bytes: %x\n", len(reply), reply)
			}
			return exitOK
		}
	case "reload-config":
		changes, err := c.ReloadConfig(ctx)
		if err != nil {
			return ctlFail(stderr, err)
		}
		out = admin.ConfigReloadReply{Changes: changes}
		if !*jsonOut {
			if len(changes) == 0 {
				fmt.Fprintln(stdout, "no changes")
			}
			for _, ch := range changes {
				fmt.Fprintln(stdout, ch)
			}
			return exitOK
		}
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
		return exitOK
	}
	for k, v := range out.(map[string]string) {
		fmt.Fprintf(stdout, "%s %s\n", k, v)
	}
	return exitOK
}

func ctlFail(stderr io.Writer, err error) int {
	var ae *admin.APIError
	if errors.As(err, &ae) {
		fmt.Fprintf(stderr, "memif-wasm ctl: %s\n", ae.Message)
	} else {
		fmt.Fprintf(stderr, "memif-wasm ctl: %v (is 'memif-wasm run' running with this --admin-socket?)\n", err)
	}
	return exitFailure
}

// isText reports whether b prints as it is: UTF-8 without control
// characters other than tab and newlines.
func isText(b []byte) bool {
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
