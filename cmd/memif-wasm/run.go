package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/host/daemon/admin"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/daemon/serve"
)

func init() {
	program.Register(cli.Command{Name: "run", Summary: "run the daemon: memif interfaces, wasm pipelines, metrics, admin API", Run: runMain})
}

const runUsage = "memif-wasm run [--config FILE] [--socket PATH --role master|slave --id N --plugin FILE ... --plugin-config FILE ...] [--metrics-addr HOST:PORT] [--admin-socket PATH]"

const runDescription = `Runs tenants' memif interfaces and, on every received burst, their pipelines of
WebAssembly plugins: TX sends a packet back out the interface it came in on, PASS
sends it to the interface's egress (dropped when there is none), REDIRECT to a named
port of the tenant. One worker per rx queue.

The daemon is described by a YAML file (--config); for a quick single-interface run,
--socket/--role/--id/--plugin are enough (tenant "default", interface "memif0").
SIGHUP re-reads the config file and applies the difference (unchanged interfaces and
plugins keep running); a plugin whose file changes is reloaded without losing packets
(--watch); SIGINT or SIGTERM drains the bursts in flight, sends DISCONNECT and exits 0.

Metrics are served in the Prometheus format at http://--metrics-addr/metrics; the
admin API (see 'memif-wasm ctl') listens on a unix socket, mode 0600 unless
--admin-socket-mode/-group say otherwise (no token there), and optionally on loopback
TCP with a token. A master's memif socket file gets --socket-mode/-owner/-group (or the
interface's socket_* keys) so a peer of another user, such as VPP, can connect.
--check-config only checks: every problem is listed and the exit status is 0 or 1.
Exit status: 0 after a clean stop, 1 when something failed, 2 for a wrong command line.
Every config key: docs/config.md.`

const runExamples = `# one interface, as master, reflecting packets with macswap
memif-wasm run --socket /tmp/memif.sock --role master --id 0 --plugin plugins/build/macswap.wasm
# an ACL with its rules, then a counter, with metrics
memif-wasm run --socket /run/vpp/memif.sock --role slave --plugin plugins/build/acl.wasm --plugin-config plugins/acl/acl.example.json --plugin plugins/build/counter.wasm --metrics-addr 127.0.0.1:9190
# check a config without starting anything (as nginx -t): exit 0, or 1 listing every problem
memif-wasm run --check-config --config host/daemon/config/memif-wasm.example.yaml
# a master socket VPP (running as user vpp) may connect to
memif-wasm run --socket /run/memif-wasm/vpp.sock --role master --socket-mode 0660 --socket-group vpp --plugin plugins/build/macswap.wasm
# from a config file (see host/daemon/config/memif-wasm.example.yaml), JSON logs
memif-wasm run --config /etc/memif-wasm.yaml --log-format json`

// runFlags are the command line of run, kept apart from its logic for tests.
type runFlags struct {
	configFile    string
	tenant        string
	iface         config.Interface // quick run: the interface's keys
	plugins       []string
	pluginConfigs []string
	plugin        config.Plugin // quick run: fuel, stack and fail policy of every plugin
	failOpen      bool
	over          config.Config // metrics, admin, log and engine keys given on the command line
	watch         bool
	checkConfig   bool
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, f := newRunFlags()
	if code, done := fs.ParseNoArgs(args, stdout, stderr); done {
		return code
	}
	quick := fs.Changed("socket") || len(f.plugins) > 0
	if f.configFile != "" && quick {
		return fs.UsageError(stderr, "--config and --socket/--plugin exclude each other: put the interface in the config file")
	}
	if f.configFile == "" && !fs.Changed("socket") {
		return fs.UsageError(stderr, "give --config FILE, or --socket PATH (with --role, --id, --plugin) for a quick run")
	}
	if !fs.Changed("role") && f.configFile == "" {
		// No default: gen, VPP and DPDK each default to one role or the
		// other, and two slaves wait for each other forever.
		return fs.UsageError(stderr, "--role is required for a quick run: master (listens) or slave (connects)")
	}
	if (fs.Changed("ring-size") || fs.Changed("buffer-size")) && (f.iface.Role == "master" || f.iface.Role == "server") {
		return fs.UsageError(stderr, "--ring-size and --buffer-size are the slave's to choose: a master takes its peer's (set them on the slave)")
	}
	if len(f.pluginConfigs) > len(f.plugins) {
		return fs.UsageError(stderr, "%d --plugin-config for %d --plugin", len(f.pluginConfigs), len(f.plugins))
	}
	if !fs.Changed("admin-socket") && f.over.Admin.Socket != "" {
		if err := os.MkdirAll(filepath.Dir(f.over.Admin.Socket), 0o700); err != nil {
			return f.fail(stderr, cli.ExitFailure, fmt.Errorf("admin socket directory: %w (set --admin-socket)", err))
		}
	}

	var cfg *config.Config
	var err error
	if f.configFile != "" {
		cfg, err = config.Load(f.configFile)
	} else {
		cfg, err = f.quickConfig()
	}
	if err == nil {
		f.override(cfg, fs.Changed)
		err = cfg.Validate()
	}
	if f.checkConfig {
		return checkConfig(ctx, cfg, err, stdout, stderr)
	}
	if err != nil {
		return f.fail(stderr, cli.ExitUsage, err)
	}
	log := serve.NewLogger(cfg.Log, stderr)
	err = serve.Run(ctx, serve.Options{Config: cfg, ConfigFile: f.configFile, Watch: f.watch, Logger: log,
		Override: func(c *config.Config) { f.override(c, fs.Changed) }})
	if err != nil {
		log.Error("memif-wasm run failed", "err", err)
		return cli.ExitFailure
	}
	return cli.ExitOK
}

// newRunFlags defines run's command line.
func newRunFlags() (*cli.FlagSet, *runFlags) {
	fs := cli.NewFlagSet("memif-wasm run", runUsage, runDescription, runExamples)
	var f runFlags
	fs.StringVar(&f.configFile, "config", "", "YAML config file (tenants, interfaces, pipelines)")
	fs.StringVar(&f.iface.Socket, "socket", "", "quick run: memif control socket path (@name: abstract namespace)")
	fs.StringVar(&f.iface.Role, "role", "", "quick run (required): master (listens: the peer connects) or slave (connects to the peer's socket)")
	fs.Uint32Var(&f.iface.ID, "id", 0, "quick run: memif interface id")
	fs.StringVar(&f.iface.SocketMode, "socket-mode", "", `quick run, master: socket file mode in octal, e.g. 0660 (a peer needs write permission to connect)`)
	fs.StringVar(&f.iface.SocketOwner, "socket-owner", "", "quick run, master: socket file owner (user name or uid)")
	fs.StringVar(&f.iface.SocketGroup, "socket-group", "", "quick run, master: socket file group (name or gid), e.g. vpp")
	fs.StringVar(&f.iface.Name, "name", "memif0", "quick run: interface name")
	fs.StringVar(&f.tenant, "tenant", "default", "quick run: tenant name")
	fs.StringArrayVar(&f.plugins, "plugin", nil, "quick run: a .wasm plugin file or oci://REGISTRY/REPO:TAG; repeat for a pipeline, in order")
	fs.StringArrayVar(&f.pluginConfigs, "plugin-config", nil, "quick run: config file of the plugin at the same position (repeatable)")
	fs.IntVar(&f.iface.Queues, "queues", 1, "quick run: queues each way, one worker per rx queue")
	fs.IntVar(&f.iface.RingSize, "ring-size", config.DefaultRingSize, "quick run: descriptors per ring, a power of two")
	fs.IntVar(&f.iface.BufferSize, "buffer-size", config.DefaultBufferSize, "quick run: bytes per buffer")
	fs.StringVar(&f.iface.RxMode, "rx-mode", "interrupt", "quick run: interrupt, polling (a worker spins on its queue: lowest latency, one busy core per queue), or adaptive (polls while packets keep coming, sleeps when idle)")
	fs.StringVar(&f.iface.Secret, "secret", "", "quick run: memif secret")
	fs.BoolVar(&f.failOpen, "fail-open", false, "quick run: pass packets on when a plugin faults (default: drop)")
	fs.DurationVar(&f.iface.TxRetryTime, "tx-retry-time", 0, "quick run: how long a burst waits for room on a full tx ring before what does not fit is dropped, 0s..1s (default: the host's, 1ms)")
	fs.IntVar(&f.iface.TxRetries, "tx-retries", 0, "quick run: also cap the retries per packet on a full tx ring (default: no cap, --tx-retry-time alone bounds the wait)")
	fs.Int64Var(&f.plugin.Fuel, "fuel", 0, "quick run: fuel of one burst per plugin, about one unit per wasm instruction (default: the host's)")
	fs.Int64Var(&f.plugin.Stack, "stack", 0, "quick run: bytes of call stack one plugin call may take; deeper recursion is a fault (default: the host's, 256 KiB)")
	fs.StringVar(&f.over.Metrics.Addr, "metrics-addr", "", "serve Prometheus /metrics on HOST:PORT (overrides metrics.addr)")
	fs.StringVar(&f.over.Admin.Socket, "admin-socket", admin.DefaultSocket(), "admin API unix socket, mode 0600; empty: none (overrides admin.socket)")
	fs.StringVar(&f.over.Admin.SocketMode, "admin-socket-mode", "", "admin socket file mode in octal (default 0600; overrides admin.socket_mode)")
	fs.StringVar(&f.over.Admin.SocketOwner, "admin-socket-owner", "", "admin socket file owner (overrides admin.socket_owner)")
	fs.StringVar(&f.over.Admin.SocketGroup, "admin-socket-group", "", "admin socket file group: its members may use the API with mode 0660 (overrides admin.socket_group)")
	fs.StringVar(&f.over.Admin.TCP, "admin-tcp", "", "also serve the admin API on this loopback HOST:PORT (needs --admin-token-file)")
	fs.StringVar(&f.over.Admin.TokenFile, "admin-token-file", "", "file holding the admin API bearer token")
	fs.StringVar(&f.over.Log.Format, "log-format", "", "log format: text (default) or json (overrides log.format)")
	fs.StringVar(&f.over.Log.Level, "log-level", "", "debug, info (default), warn or error (overrides log.level)")
	fs.BoolVar(&f.watch, "watch", true, "reload a plugin when its file changes")
	fs.StringVar(&f.over.Engine.CacheDir, "cache-dir", "", "keep compiled plugins here across restarts (overrides engine.cache_dir)")
	fs.BoolVar(&f.checkConfig, "check-config", false, "only check: parse and validate the config, compile and probe every plugin, list every problem; exit 0 (fine) or 1")
	return fs, &f
}

// quickConfig builds a one-interface config from the flags.
func (f *runFlags) quickConfig() (*config.Config, error) {
	in := f.iface
	for i, p := range f.plugins {
		pc := config.Plugin{File: p}
		if strings.HasPrefix(p, "oci://") {
			pc = config.Plugin{Source: p} // anonymous pull; a config file gives keys, auth, policy
		}
		if i < len(f.pluginConfigs) {
			pc.ConfigFile = f.pluginConfigs[i]
		}
		if f.failOpen {
			pc.FailPolicy = "open"
		}
		pc.Fuel, pc.Stack = f.plugin.Fuel, f.plugin.Stack
		in.Plugins = append(in.Plugins, pc)
	}
	c := &config.Config{Tenants: []config.Tenant{{Name: f.tenant, Interfaces: []config.Interface{in}}}}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%w (from the command line: tenants[0] is --tenant, interfaces[0] the --socket flags, plugins[i] the i-th --plugin)", err)
	}
	return c, nil
}

// override applies the flags that take precedence over the file.
func (f *runFlags) override(c *config.Config, changed func(string) bool) {
	for flag, keys := range map[string][2]*string{
		"metrics-addr":       {&c.Metrics.Addr, &f.over.Metrics.Addr},
		"admin-socket-mode":  {&c.Admin.SocketMode, &f.over.Admin.SocketMode},
		"admin-socket-owner": {&c.Admin.SocketOwner, &f.over.Admin.SocketOwner},
		"admin-socket-group": {&c.Admin.SocketGroup, &f.over.Admin.SocketGroup},
		"admin-tcp":          {&c.Admin.TCP, &f.over.Admin.TCP},
		"admin-token-file":   {&c.Admin.TokenFile, &f.over.Admin.TokenFile},
		"log-format":         {&c.Log.Format, &f.over.Log.Format},
		"log-level":          {&c.Log.Level, &f.over.Log.Level},
		"cache-dir":          {&c.Engine.CacheDir, &f.over.Engine.CacheDir},
	} {
		if changed(flag) {
			*keys[0] = *keys[1]
		}
	}
	if changed("admin-socket") || c.Admin.Socket == "" {
		c.Admin.Socket = f.over.Admin.Socket
	}
}

// fail reports an error that stops run and returns code: one JSON log line
// under --log-format json (so config errors are JSON too), else plain text.
func (f *runFlags) fail(stderr io.Writer, code int, err error) int {
	if f.over.Log.Format == "json" {
		serve.NewLogger(config.Log{Format: "json"}, stderr).Error("memif-wasm run failed", "err", err.Error())
	} else {
		fmt.Fprintf(stderr, "memif-wasm run: %v\n", err)
	}
	return code
}

// checkConfig reports the outcome of run --check-config: cfg (nil when it
// did not parse) and the error of loading and validating it.
func checkConfig(ctx context.Context, cfg *config.Config, err error, stdout, stderr io.Writer) int {
	if err == nil {
		err = daemon.Check(ctx, cfg, daemon.Options{})
	}
	if err != nil {
		problems := strings.Split(err.Error(), "\n")
		fmt.Fprintf(stderr, "memif-wasm run --check-config: %d problem(s):\n", len(problems))
		for _, p := range problems {
			fmt.Fprintf(stderr, "  %s\n", p)
		}
		return cli.ExitFailure
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stderr, "memif-wasm run --check-config: warning: %s\n", w)
	}
	var ifaces, plugins int
	for _, t := range cfg.Tenants {
		ifaces += len(t.Interfaces)
		for _, in := range t.Interfaces {
			plugins += len(in.Plugins)
		}
	}
	fmt.Fprintf(stdout, "config OK: %d tenant(s), %d interface(s), %d plugin(s) compiled and probed\n", len(cfg.Tenants), ifaces, plugins)
	return cli.ExitOK
}
