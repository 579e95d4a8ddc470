package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/host/daemon/admin"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/daemon/metrics"
)

func init() {
	register(command{name: "run", summary: "run the daemon: memif interfaces, wasm pipelines, metrics, admin API", run: runMain})
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
admin API (see 'memif-wasm ctl') listens on a unix socket with mode 0600.`

const runExamples = `# one interface, as master, reflecting packets with macswap
memif-wasm run --socket /tmp/memif.sock --role master --id 0 --plugin plugins/build/macswap.wasm
# an ACL with its rules, then a counter, with metrics
memif-wasm run --socket /run/vpp/memif.sock --role slave --plugin plugins/build/acl.wasm --plugin-config acl.json --plugin plugins/build/counter.wasm --metrics-addr 127.0.0.1:9190
# from a config file (see host/daemon/config/memif-wasm.example.yaml), JSON logs
memif-wasm run --config /etc/memif-wasm.yaml --log-format json`

// runFlags are the command line of run, kept apart from its logic for tests.
type runFlags struct {
	configFile    string
	socket        string
	role          string
	id            uint32
	name          string
	tenant        string
	plugins       []string
	pluginConfigs []string
	egress        string
	queues        int
	ringSize      int
	bufferSize    int
	rxMode        string
	secret        string
	failOpen      bool
	fuel          int64
	stack         int64
	txRetries     int
	txRetryTime   time.Duration
	metricsAddr   string
	adminSocket   string
	adminTCP      string
	tokenFile     string
	logFormat     string
	logLevel      string
	watch         bool
	cacheDir      string
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, f := newRunFlags()
	if code, done := fs.parse(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		return fs.usageError(stderr, "unexpected argument %q", fs.Arg(0))
	}
	quick := fs.Changed("socket") || len(f.plugins) > 0
	if f.configFile != "" && quick {
		return fs.usageError(stderr, "--config and --socket/--plugin exclude each other: put the interface in the config file")
	}
	if f.configFile == "" && !fs.Changed("socket") {
		return fs.usageError(stderr, "give --config FILE, or --socket PATH (with --role, --id, --plugin) for a quick run")
	}
	if len(f.pluginConfigs) > len(f.plugins) {
		return fs.usageError(stderr, "%d --plugin-config for %d --plugin", len(f.pluginConfigs), len(f.plugins))
	}
	if !fs.Changed("admin-socket") && f.adminSocket != "" {
		if err := os.MkdirAll(filepath.Dir(f.adminSocket), 0o700); err != nil {
			fmt.Fprintf(stderr, "memif-wasm run: admin socket directory: %v (set --admin-socket)\n", err)
			return exitFailure
		}
	}

	var cfg *config.Config
	var err error
	if f.configFile != "" {
		cfg, err = config.Load(f.configFile)
	} else {
		cfg, err = f.quickConfig()
	}
	if err != nil {
		fmt.Fprintf(stderr, "memif-wasm run: %v\n", err)
		return exitUsage
	}
	f.override(cfg, fs.Changed)
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "memif-wasm run: %v\n", err)
		return exitUsage
	}
	override := func(c *config.Config) { f.override(c, fs.Changed) }
	return runDaemon(ctx, cfg, f.configFile, f.watch, override, stderr)
}

// newRunFlags defines run's command line.
func newRunFlags() (*flagSet, *runFlags) {
	fs := newFlagSet("run", runUsage, runDescription, runExamples)
	var f runFlags
	fs.StringVar(&f.configFile, "config", "", "YAML config file (tenants, interfaces, pipelines)")
	fs.StringVar(&f.socket, "socket", "", "quick run: memif control socket path (@name: abstract namespace)")
	fs.StringVar(&f.role, "role", "slave", "quick run: master (listens) or slave (connects)")
	fs.Uint32Var(&f.id, "id", 0, "quick run: memif interface id")
	fs.StringVar(&f.name, "name", "memif0", "quick run: interface name")
	fs.StringVar(&f.tenant, "tenant", "default", "quick run: tenant name")
	fs.StringArrayVar(&f.plugins, "plugin", nil, "quick run: a .wasm plugin; repeat for a pipeline, in order")
	fs.StringArrayVar(&f.pluginConfigs, "plugin-config", nil, "quick run: config file of the plugin at the same position (repeatable)")
	fs.IntVar(&f.queues, "queues", 1, "quick run: queues each way, one worker per rx queue")
	fs.IntVar(&f.ringSize, "ring-size", config.DefaultRingSize, "quick run: descriptors per ring, a power of two")
	fs.IntVar(&f.bufferSize, "buffer-size", config.DefaultBufferSize, "quick run: bytes per buffer")
	fs.StringVar(&f.rxMode, "rx-mode", "interrupt", "quick run: interrupt, or polling (a worker spins on its queue: lowest latency, one busy core per queue)")
	fs.StringVar(&f.secret, "secret", "", "quick run: memif secret")
	fs.BoolVar(&f.failOpen, "fail-open", false, "quick run: pass packets on when a plugin faults (default: drop)")
	fs.DurationVar(&f.txRetryTime, "tx-retry-time", 0, "quick run: how long a burst waits for room on a full tx ring before what does not fit is dropped, 0s..1s (default: the host's, 1ms)")
	fs.IntVar(&f.txRetries, "tx-retries", 0, "quick run: also cap the retries per packet on a full tx ring (default: no cap, --tx-retry-time alone bounds the wait)")
	fs.Int64Var(&f.fuel, "fuel", 0, "quick run: fuel of one burst per plugin, about one unit per wasm instruction (default: the host's)")
	fs.Int64Var(&f.stack, "stack", 0, "quick run: bytes of call stack one plugin call may take; deeper recursion is a fault (default: the host's, 256 KiB)")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics on HOST:PORT (overrides metrics.addr)")
	fs.StringVar(&f.adminSocket, "admin-socket", defaultAdminSocket(), "admin API unix socket, mode 0600; empty: none (overrides admin.socket)")
	fs.StringVar(&f.adminTCP, "admin-tcp", "", "also serve the admin API on this loopback HOST:PORT (needs --admin-token-file)")
	fs.StringVar(&f.tokenFile, "admin-token-file", "", "file holding the admin API bearer token")
	fs.StringVar(&f.logFormat, "log-format", "", "log format: text (default) or json (overrides log.format)")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info (default), warn or error (overrides log.level)")
	fs.BoolVar(&f.watch, "watch", true, "reload a plugin when its file changes")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "keep compiled plugins here across restarts (overrides engine.cache_dir)")
	return fs, &f
}

// quickConfig builds a one-interface config from the flags.
func (f *runFlags) quickConfig() (*config.Config, error) {
	in := config.Interface{
		Name:        f.name,
		Socket:      f.socket,
		Role:        f.role,
		ID:          f.id,
		Secret:      f.secret,
		Queues:      f.queues,
		RingSize:    f.ringSize,
		BufferSize:  f.bufferSize,
		RxMode:      f.rxMode,
		TxRetries:   f.txRetries,
		TxRetryTime: f.txRetryTime,
	}
	for i, p := range f.plugins {
		pc := config.Plugin{File: p}
		if i < len(f.pluginConfigs) {
			pc.ConfigFile = f.pluginConfigs[i]
		}
		if f.failOpen {
			pc.FailPolicy = "open"
		}
		pc.Fuel = f.fuel
		pc.Stack = f.stack
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
	if changed("metrics-addr") {
		c.Metrics.Addr = f.metricsAddr
	}
	if changed("admin-socket") || c.Admin.Socket == "" {
		c.Admin.Socket = f.adminSocket
	}
	if changed("admin-tcp") {
		c.Admin.TCP = f.adminTCP
	}
	if changed("admin-token-file") {
		c.Admin.TokenFile = f.tokenFile
	}
	if changed("log-format") {
		c.Log.Format = f.logFormat
	}
	if changed("log-level") {
		c.Log.Level = f.logLevel
	}
	if changed("cache-dir") {
		c.Engine.CacheDir = f.cacheDir
	}
}

// defaultAdminSocket is where run listens and ctl connects without --admin-socket.
func defaultAdminSocket() string {
	if os.Geteuid() == 0 {
		return "/run/memif-wasm/admin.sock"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "memif-wasm", "admin.sock")
	}
	return filepath.Join(os.TempDir(), "memif-wasm-"+strconv.Itoa(os.Geteuid()), "admin.sock")
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	switch c.Level {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// readToken reads a bearer token file; the token is its first line.
func readToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	tok := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	if tok == "" {
		return "", fmt.Errorf("token file %s: empty", path)
	}
	return tok, nil
}

// runDaemon starts everything cfg describes and serves until ctx is done.
// Listeners are opened before the data plane starts, so an address in use
// fails before any interface comes up.
// override applies the command line's precedence to a config re-read from the file.
func runDaemon(ctx context.Context, cfg *config.Config, configFile string, watch bool, override func(*config.Config), stderr io.Writer) int {
	log := newLogger(cfg.Log, stderr)
	fail := func(what string, err error) int {
		log.Error("memif-wasm run: "+what, "err", err)
		return exitFailure
	}
	token, err := readToken(cfg.Admin.TokenFile)
	if err != nil {
		return fail("admin API", err)
	}
	var metricsLn net.Listener
	if cfg.Metrics.Addr != "" {
		metricsLn, err = net.Listen("tcp", cfg.Metrics.Addr)
		if err != nil {
			return fail("metrics listener", err)
		}
		defer metricsLn.Close()
	}
	// SIGHUP is caught from here on, so an early one cannot kill the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	d, err := daemon.New(ctx, cfg, daemon.Options{Logger: log, Watch: watch})
	if err != nil {
		return fail("start", err)
	}
	defer func() {
		if err := d.Close(); err != nil {
			log.Warn("shutdown", "err", err)
		}
	}()
	// reloadConfig re-reads the file and applies it, all or nothing. The
	// daemon counts and logs the outcome (once, for SIGHUP and the admin
	// API alike), so neither caller logs it again.
	reloadConfig := func(ctx context.Context) ([]daemon.Change, error) {
		return d.ReloadConfig(ctx, func() (*config.Config, error) {
			next, err := config.Load(configFile)
			if err != nil {
				return nil, err
			}
			override(next)
			// Settings outside tenants need a restart; keep the running ones.
			cur := d.Config()
			if next.Log != cur.Log || next.Metrics != cur.Metrics || next.Admin != cur.Admin || next.Engine != cur.Engine {
				log.Warn("config reload: log, metrics, admin and engine settings take effect at the next start", "file", configFile)
			}
			next.Log, next.Metrics, next.Admin, next.Engine = cur.Log, cur.Metrics, cur.Admin, cur.Engine
			return next, nil
		})
	}
	var reload func(context.Context) ([]daemon.Change, error)
	if configFile != "" {
		reload = reloadConfig
	}
	if cfg.Admin.Socket != "" || cfg.Admin.TCP != "" {
		srv, err := admin.Listen(d, admin.Options{Socket: cfg.Admin.Socket, TCP: cfg.Admin.TCP, Token: token, ReloadConfig: reload, Logger: log})
		if err != nil {
			return fail("admin API", err)
		}
		defer srv.Close()
	}
	if metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("/metrics", metrics.Handler(metrics.NewRegistry(d.Snapshot, metrics.NewTableCollector(d.Tables))))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(metricsLn)
		defer srv.Close()
	}
	log.Info("memif-wasm running", "tenants", len(cfg.Tenants), "metrics", metricsURL(metricsLn), "admin_socket", cfg.Admin.Socket)
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down: draining and disconnecting")
			return exitOK
		case <-hup:
			if configFile == "" {
				log.Warn("SIGHUP ignored: started without --config")
				continue
			}
			log.Info("SIGHUP: reloading the config", "file", configFile)
			reloadConfig(ctx) // logged and counted by the daemon
		}
	}
}

func metricsURL(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return "http://" + ln.Addr().String() + "/metrics"
}
