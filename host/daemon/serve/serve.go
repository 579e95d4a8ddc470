package serve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/host/daemon/admin"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/daemon/metrics"
)

// Options describe one service run. The zero value of a field is its
// default.
type Options struct {
	// Config is what to run; it must have passed Validate.
	Config *config.Config
	// ConfigFile is re-read on SIGHUP and reload-config; "": no reloads.
	ConfigFile string
	// Override is applied to every config re-read from ConfigFile (the
	// command line's precedence over the file). nil: none.
	Override func(*config.Config)
	// Watch reloads a plugin when its file changes.
	Watch bool
	// Logger receives every event. nil: NewLogger(Config.Log, os.Stderr).
	Logger *slog.Logger
}

// Run starts everything o.Config describes and serves until ctx is done;
// then it drains the bursts in flight, disconnects and returns nil. The
// listeners open before the data plane starts, so an address in use fails
// before any interface comes up. An error means the service did not start.
func Run(ctx context.Context, o Options) error {
	cfg := o.Config
	log := o.Logger
	if log == nil {
		log = NewLogger(cfg.Log, os.Stderr)
	}
	for _, w := range cfg.Warnings() {
		log.Warn("config: " + w)
	}
	token, err := admin.ReadToken(cfg.Admin.TokenFile)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	var metricsLn net.Listener
	if cfg.Metrics.Addr != "" {
		metricsLn, err = net.Listen("tcp", cfg.Metrics.Addr)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		defer metricsLn.Close()
	}
	// SIGHUP is caught from here on, so an early one cannot kill the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	d, err := daemon.New(ctx, cfg, daemon.Options{Logger: log, Watch: o.Watch})
	if err != nil {
		return fmt.Errorf("start: %w", err)
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
			next, err := config.Load(o.ConfigFile)
			if err != nil {
				return nil, err
			}
			if o.Override != nil {
				o.Override(next)
			}
			// Settings outside tenants need a restart; keep the running ones.
			cur := d.Config()
			if next.Log != cur.Log || next.Metrics != cur.Metrics || next.Admin != cur.Admin || next.Engine != cur.Engine {
				log.Warn("config reload: log, metrics, admin and engine settings take effect at the next start", "file", o.ConfigFile)
			}
			next.Log, next.Metrics, next.Admin, next.Engine = cur.Log, cur.Metrics, cur.Admin, cur.Engine
			return next, nil
		})
	}
	var reload func(context.Context) ([]daemon.Change, error)
	if o.ConfigFile != "" {
		reload = reloadConfig
	}
	if cfg.Admin.Socket != "" || cfg.Admin.TCP != "" {
		srv, err := admin.Listen(d, admin.Options{Socket: cfg.Admin.Socket, SocketFile: cfg.Admin.SocketFile(), TCP: cfg.Admin.TCP, Token: token, ReloadConfig: reload, Logger: log})
		if err != nil {
			return fmt.Errorf("admin API: %w", err)
		}
		defer srv.Close()
	}
	if metricsLn != nil {
		mux := metrics.Mux(metrics.NewRegistry(d.Snapshot, metrics.NewTableCollector(d.Tables)), d.Ready)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(metricsLn)
		defer srv.Close()
	}
	d.LogStartup(log, "metrics", metricsURL(metricsLn), "admin_socket", cfg.Admin.Socket)
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down: draining and disconnecting")
			return nil
		case <-hup:
			if o.ConfigFile == "" {
				log.Warn("SIGHUP ignored: started without --config")
				continue
			}
			log.Info("SIGHUP: reloading the config", "file", o.ConfigFile)
			reloadConfig(ctx) // logged and counted by the daemon
		}
	}
}

// NewLogger returns the logger the log section asks for, writing to w.
func NewLogger(c config.Log, w io.Writer) *slog.Logger {
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

func metricsURL(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return "http://" + ln.Addr().String() + "/metrics"
}
