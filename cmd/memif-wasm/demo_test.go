package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/cmd/memif-wasm/internal/cli"
)

// The demo with the user's plugin: traffic flows, live lines, a summary table naming
// the plugin, the generator's report, and the metrics address.
func TestDemoUserPlugin(t *testing.T) {
	tx := watPlugin(t, "1", "3")
	code, stdout, stderr := runArgs(t, "demo", "--plugin", tx, "--duration", "400ms", "--interval", "100ms",
		"--rate", "20000", "--cache-dir", "")
	if code != cli.ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, re := range []string{
		`metrics: http://127\.0\.0\.1:\d+/metrics`,
		`gen \d+(\.\d+)? k?pps  \|  p: tx `, // a live line: the plugin is called "p" after its file
		`(?m)^p\s+(\d+)\s+0\s+0\s+0\s+(\d+)\s+0\s+0\s+`,
		`lost\s+0 \(0\.000%\)`,
	} {
		if !regexp.MustCompile(re).MatchString(stdout) {
			t.Errorf("output lacks %s:\n%s", re, stdout)
		}
	}
	m := regexp.MustCompile(`(?m)^p\s+(\d+)\s+0\s+0\s+0\s+(\d+)\s`).FindStringSubmatch(stdout)
	if m == nil || m[1] != m[2] || m[1] == "0" {
		t.Errorf("summary: packets and tx verdicts differ or are zero: %v", m)
	}
}

// The same module twice gets two names, and a DROP plugin first explains all loss.
func TestDemoTwoPlugins(t *testing.T) {
	drop := watPlugin(t, "1", "1")
	code, stdout, stderr := runArgs(t, "demo", "--plugin", drop, "--plugin", drop, "--duration", "200ms",
		"--rate", "5000", "--metrics-addr", "", "--cache-dir", "")
	if code != cli.ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "p -> p-2") || !strings.Contains(stdout, "unexplained: 0") || strings.Contains(stdout, "metrics:") {
		t.Fatalf("output:\n%s", stdout)
	}
}

// A plugin that traps: the demo still finishes, names the fault and accounts for every
// frame as dropped by the fail policy.
func TestDemoFaultingPlugin(t *testing.T) {
	code, stdout, stderr := runArgs(t, "demo", "--plugin", watPlugin(t, "1", "trap"), "--duration", "200ms",
		"--rate", "5000", "--metrics-addr", "", "--cache-dir", "")
	if code != cli.ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, re := range []string{`plugin p: \d+ faults \(\d+ packets got its fail policy\), last: .*unreachable`, `unexplained: 0\n`} {
		if !regexp.MustCompile(re).MatchString(stdout) {
			t.Errorf("output lacks %s:\n%s", re, stdout)
		}
	}
}

// The default pipeline from plugins/build (Go and C guests, as `make demo` runs it).
func TestDemoDefaultPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: compiling two Go guests takes seconds")
	}
	if raceEnabled {
		t.Skip("the race detector makes compiling each Go guest take ~50 s")
	}
	dir := filepath.Dir(builtPlugin(t, "counter.wasm"))
	builtPlugin(t, "acl-c.wasm")
	builtPlugin(t, "macswap.wasm")
	code, stdout, stderr := runArgs(t, "demo", "--plugins-dir", dir, "--duration", "500ms", "--rate", "8000",
		"--interval", "200ms", "--cache-dir", t.TempDir())
	if code != cli.ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"counter -> acl -> macswap", "unexplained: 0"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	// The acl denies one flow of eight.
	if !regexp.MustCompile(`lost\s+\d+ \(12\.[45]\d*%\)`).MatchString(stdout) {
		t.Errorf("loss is not the acl's 1/8:\n%s", stdout)
	}
}

func TestDemoErrors(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name string
		args func(t *testing.T) []string
		code int
		want string
	}{
		{"missing plugin", func(t *testing.T) []string { return []string{"--plugin", filepath.Join(empty, "x.wasm")} },
			cli.ExitFailure, "x.wasm: no such file"},
		{"no plugins built", func(t *testing.T) []string { return []string{"--plugins-dir", empty} },
			cli.ExitFailure, "run make plugins first"},
		{"refused plugin", func(t *testing.T) []string { return []string{"--plugin", watPlugin(t, "7", "2"), "--cache-dir", ""} },
			cli.ExitFailure, "version"},
		{"not wasm", func(t *testing.T) []string {
			p := filepath.Join(t.TempDir(), "n.wasm")
			os.WriteFile(p, []byte("hello"), 0o644)
			return []string{"--plugin", p, "--cache-dir", ""}
		}, cli.ExitFailure, "n.wasm"},
		{"bad metrics address", func(t *testing.T) []string {
			return []string{"--plugin", watPlugin(t, "1", "3"), "--metrics-addr", "256.0.0.1:1", "--cache-dir", ""}
		}, cli.ExitFailure, "metrics address 256.0.0.1:1"},
		{"metrics address in use", func(t *testing.T) []string {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			return []string{"--plugin", watPlugin(t, "1", "3"), "--metrics-addr", ln.Addr().String(), "--cache-dir", ""}
		}, cli.ExitFailure, "address already in use"},
		{"zero duration", func(t *testing.T) []string { return []string{"--duration", "0s"} }, cli.ExitUsage, "--duration 0s"},
		{"bad proto", func(t *testing.T) []string { return []string{"--proto", "sctp"} }, cli.ExitUsage, "sctp"},
		{"negative stack", func(t *testing.T) []string {
			return []string{"--plugin", watPlugin(t, "1", "3"), "--stack", "-1", "--cache-dir", ""}
		},
			cli.ExitFailure, "stack: -1 is outside"},
		{"argument", func(t *testing.T) []string { return []string{"go"} }, cli.ExitUsage, `"go"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runArgs(t, append([]string{"demo"}, tt.args(t)...)...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d (want %d), stderr lacks %q:\n%s\nstdout:\n%s", code, tt.code, tt.want, stderr, stdout)
			}
		})
	}
}

// lineWriter hands complete lines to a channel, for reading a command's output while
// it runs.
type lineWriter struct {
	mu    sync.Mutex
	buf   []byte
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		select {
		case w.lines <- string(w.buf[:i]):
		default: // nobody is listening any more
		}
		w.buf = w.buf[i+1:]
	}
}

// While the demo runs, its /metrics address serves the daemon's metrics, with the
// plugin's verdicts in them, and /healthz and /readyz beside it, as run's does.
func TestDemoServesMetrics(t *testing.T) {
	out := &lineWriter{lines: make(chan string, 100)}
	done := make(chan int, 1)
	var errb bytes.Buffer
	go func() {
		done <- run(context.Background(), []string{"demo", "--plugin", watPlugin(t, "1", "3"), "--duration", "1500ms",
			"--rate", "5000", "--cache-dir", ""}, out, &errb)
	}()
	re := regexp.MustCompile(`^metrics: (http://\S+/metrics)`)
	var url string
	for url == "" {
		select {
		case l := <-out.lines:
			if m := re.FindStringSubmatch(l); m != nil {
				url = m[1]
			}
		case code := <-done:
			t.Fatalf("demo ended (exit %d) without a metrics address; stderr:\n%s", code, errb.String())
		case <-time.After(20 * time.Second):
			t.Fatal("no metrics address within 20 s")
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		u := strings.TrimSuffix(url, "/metrics") + path
		resp, err := http.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s %s", u, resp.Status, b)
		}
	}
	var body string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		if regexp.MustCompile(`memif_wasm_\w*verdict\w*\{[^}]*verdict="tx"[^}]*\} [1-9]`).MatchString(body) {
			break
		}
	}
	if !strings.Contains(body, "memif_wasm_") || !strings.Contains(body, `verdict="tx"`) {
		t.Fatalf("metrics lack memif_wasm_* with tx verdicts:\n%.3000s", body)
	}
	if code := <-done; code != cli.ExitOK {
		t.Fatalf("demo exit %d; stderr:\n%s", code, errb.String())
	}
}
