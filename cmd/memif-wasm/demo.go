package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
	"github.com/memif-wasm/memif-wasm/host/daemon/demo"
	"github.com/memif-wasm/memif-wasm/memif/gen"
)

func init() {
	program.Register(cli.Command{Name: "demo", Summary: "run a host with example plugins against a built-in traffic generator", Run: demoMain})
}

const demoUsage = "memif-wasm demo [--duration D] [--plugin FILE]..."

const demoDescription = `Starts a memif-wasm host in this process with a pipeline of example plugins on one
memif interface (master, on a temporary socket) and a built-in traffic generator as
its peer (slave). Live per-plugin verdict rates while traffic flows, then a summary
table, the generator's loss and latency report, and where /metrics was served.

The default pipeline is counter -> acl -> macswap from plugins/build (run make plugins
first, in a checkout of the module; elsewhere give that directory as --plugins-dir): counter passes and counts everything, acl drops one flow in eight (UDP source
port 1031) and macswap sends the rest back: so about 12.5% "loss" is the acl at work.
With --plugin, the pipeline is your modules instead, in the order given; the packets
they TX come back to the generator.`

const demoExamples = `make demo                       # = go run ./cmd/memif-wasm demo
memif-wasm demo --duration 10s --rate 200000
memif-wasm demo --plugin plugins/build/icmp-responder.wasm --proto icmp
memif-wasm demo --plugin my-filter.wasm --plugin plugins/build/macswap.wasm`

func demoMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("memif-wasm demo", demoUsage, demoDescription, demoExamples)
	logFormat := logFormatFlag(fs)
	duration := fs.Duration("duration", 5*time.Second, "how long traffic flows")
	plugins := fs.StringArray("plugin", nil, "a .wasm plugin for the pipeline (repeatable, in order; replaces the default pipeline)")
	pluginsDir := fs.String("plugins-dir", "plugins/build", "where the default pipeline's plugins are ("+strings.Join(demo.DefaultFiles, ", ")+", from make plugins)")
	rate := fs.Float64("rate", 50000, "frames per second the generator sends (0: as fast as possible)")
	size := fs.Int("size", gen.DefaultSize, "frame size in bytes")
	flows := fs.Int("flows", 8, "distinct flows (UDP source ports 1024..)")
	proto := fs.String("proto", "udp", "frame type: udp, or icmp (for icmp-responder)")
	queues := fs.Int("queues", 1, "queue pairs (one host worker per rx queue)")
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:0", `HOST:PORT to serve /metrics on while the demo runs ("" for none)`)
	cacheDir := fs.String("cache-dir", defaultCacheDir(), `compiled-plugin cache, so later runs start faster ("" for none)`)
	interval := fs.Duration("interval", time.Second, "how often live rates are shown")
	fuelBudget := fs.Int64("fuel", 0, "fuel budget of one burst per plugin (0: the host's default)")
	stackBudget := fs.Int64("stack", 0, "bytes of call stack one plugin call may take (0: the host's default, 256 KiB)")
	if code, done := fs.ParseNoArgs(args, stdout, stderr); done {
		return code
	}
	logger, ok := warnLogger(*logFormat, stderr)
	if !ok {
		return fs.UsageError(stderr, "--log-format %q: want text or json", *logFormat)
	}
	if *duration <= 0 {
		return fs.UsageError(stderr, "--duration %v: want a positive duration", *duration)
	}
	if *interval <= 0 {
		return fs.UsageError(stderr, "--interval %v: want a positive duration", *interval)
	}
	protoV, err := gen.ParseProto(*proto)
	if err != nil {
		return fs.UsageError(stderr, "--proto: %v", err)
	}
	var pipeline []config.Plugin
	if len(*plugins) > 0 {
		pipeline, err = demo.UserPipeline(*plugins)
	} else {
		pipeline, err = demo.DefaultPipeline(*pluginsDir)
	}
	if err == nil {
		err = demo.Run(ctx, demo.Options{
			Pipeline: pipeline, Duration: *duration, Interval: *interval, Rate: *rate, Size: *size,
			Flows: *flows, Proto: protoV, Queues: *queues, MetricsAddr: *metricsAddr, CacheDir: *cacheDir,
			Fuel: *fuelBudget, Stack: *stackBudget, Terminal: isTerminal(stdout),
			Logger: logger,
		}, stdout)
	}
	if err != nil {
		return cli.Fail(stderr, "memif-wasm demo", err)
	}
	return cli.ExitOK
}

func defaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "memif-wasm")
}
