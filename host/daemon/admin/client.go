package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/host/daemon/config"
)

// Client calls the admin API.
type Client struct {
	http  *http.Client
	base  string
	token string
}

// NewClient returns a client for addr: a unix socket path, or an
// http://HOST:PORT URL for the loopback TCP listener. token may be empty.
func NewClient(addr, token string) *Client {
	c := &Client{token: token}
	if strings.HasPrefix(addr, "http://") || strings.HasPrefix(addr, "https://") {
		c.base = strings.TrimSuffix(addr, "/")
		c.http = &http.Client{Timeout: 60 * time.Second}
		return c
	}
	c.base = "http://memif-wasm"
	c.http = &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", addr)
			},
		},
	}
	return c
}

// APIError is a non-2xx answer.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("admin API: %s (%d %s)", e.Message, e.Status, http.StatusText(e.Status))
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("admin API: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
			eb.Error = strings.TrimSpace(string(data))
		}
		return &APIError{Status: resp.StatusCode, Message: eb.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin API: bad answer: %w", err)
	}
	return nil
}

func ifacePath(tenant, iface string) string {
	return "/v1/tenants/" + url.PathEscape(tenant) + "/interfaces/" + url.PathEscape(iface)
}

func pluginPath(tenant, iface, plugin string) string {
	return ifacePath(tenant, iface) + "/plugins/" + url.PathEscape(plugin)
}

// Tenants lists tenants, interfaces and plugins.
func (c *Client) Tenants(ctx context.Context) ([]Tenant, error) {
	var out []Tenant
	return out, c.do(ctx, http.MethodGet, "/v1/tenants", nil, &out)
}

// Stats returns every counter.
func (c *Client) Stats(ctx context.Context) (*daemon.Snapshot, error) {
	var out daemon.Snapshot
	return &out, c.do(ctx, http.MethodGet, "/v1/stats", nil, &out)
}

// Interface returns memif details and counters of one interface.
func (c *Client) Interface(ctx context.Context, tenant, iface string) (*InterfaceDetails, error) {
	var out InterfaceDetails
	return &out, c.do(ctx, http.MethodGet, ifacePath(tenant, iface), nil, &out)
}

// Load adds a plugin at index (negative: last).
func (c *Client) Load(ctx context.Context, tenant, iface string, p config.Plugin, index int) error {
	req := LoadRequest{Plugin: p}
	if index >= 0 {
		req.Index = &index
	}
	return c.do(ctx, http.MethodPost, ifacePath(tenant, iface)+"/plugins", req, nil)
}

// Unload removes a plugin.
func (c *Client) Unload(ctx context.Context, tenant, iface, plugin string) error {
	return c.do(ctx, http.MethodDelete, pluginPath(tenant, iface, plugin), nil, nil)
}

// Reload compiles the plugin's file again and swaps it in.
func (c *Client) Reload(ctx context.Context, tenant, iface, plugin string) error {
	return c.do(ctx, http.MethodPost, pluginPath(tenant, iface, plugin)+"/reload", nil, nil)
}

// Control sends a control message and returns the plugin's reply. Binary
// messages and replies travel base64-encoded, text ones as they are.
func (c *Client) Control(ctx context.Context, tenant, iface, plugin string, msg []byte) ([]byte, error) {
	req := ControlRequest{Message: string(msg)}
	if !utf8.Valid(msg) {
		req = ControlRequest{Data: msg}
	}
	var out ControlReply
	if err := c.do(ctx, http.MethodPost, pluginPath(tenant, iface, plugin)+"/control", req, &out); err != nil {
		return nil, err
	}
	if out.Data != nil {
		return out.Data, nil
	}
	return []byte(out.Reply), nil
}

// ReloadConfig asks the daemon to re-read its config file and returns what changed.
func (c *Client) ReloadConfig(ctx context.Context) ([]string, error) {
	var out ConfigReloadReply
	return out.Changes, c.do(ctx, http.MethodPost, "/v1/config/reload", nil, &out)
}

// ReadToken reads a bearer token file; the token is its first line. An
// empty path is no token.
func ReadToken(path string) (string, error) {
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

// DefaultSocket is where `memif-wasm run` listens and `memif-wasm ctl`
// connects when no admin socket is given: /run/memif-wasm for root, else
// $XDG_RUNTIME_DIR/memif-wasm, else a per-user directory under the temp dir.
func DefaultSocket() string {
	if os.Geteuid() == 0 {
		return "/run/memif-wasm/admin.sock"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "memif-wasm", "admin.sock")
	}
	return filepath.Join(os.TempDir(), "memif-wasm-"+strconv.Itoa(os.Geteuid()), "admin.sock")
}

// AddTrace traces the next n packets received on tenant/iface.
func (c *Client) AddTrace(ctx context.Context, tenant, iface string, n int) error {
	return c.do(ctx, http.MethodPost, ifacePath(tenant, iface)+"/trace", TraceRequest{Packets: n}, nil)
}

// Traces returns every interface's trace.
func (c *Client) Traces(ctx context.Context) ([]daemon.TraceView, error) {
	var out []daemon.TraceView
	return out, c.do(ctx, http.MethodGet, "/v1/trace", nil, &out)
}

// ClearTraces stops every trace and forgets what they recorded.
func (c *Client) ClearTraces(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/v1/trace", nil, nil)
}

// Runtime returns the runtime view.
func (c *Client) Runtime(ctx context.Context) (*daemon.Runtime, error) {
	var out daemon.Runtime
	return &out, c.do(ctx, http.MethodGet, "/v1/runtime", nil, &out)
}

// ClearRuntime makes the runtime view count from now on; it returns when.
func (c *Client) ClearRuntime(ctx context.Context) (time.Time, error) {
	var out RuntimeClearReply
	return out.Since, c.do(ctx, http.MethodPost, "/v1/runtime/clear", nil, &out)
}

// CaptureResult is what a capture wrote.
type CaptureResult struct {
	// Packets were written to the file; Lost were captured but dropped
	// because the file was written too slowly.
	Packets, Lost int
	// Interrupted: ctx ended the capture; out holds what arrived until
	// then, and the counts are unknown (0).
	Interrupted bool
}

// Capture captures on tenant/iface as req says and copies the pcapng
// stream to out until the daemon ends it (count reached, timeout) or ctx
// is done. Unlike the other calls it has no overall time limit.
func (c *Client) Capture(ctx context.Context, tenant, iface string, req CaptureRequest, out io.Writer) (CaptureResult, error) {
	var res CaptureResult
	body, err := json.Marshal(req)
	if err != nil {
		return res, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+ifacePath(tenant, iface)+"/capture", bytes.NewReader(body))
	if err != nil {
		return res, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.token)
	}
	hc := *c.http
	hc.Timeout = 0 // a capture lasts as long as its packets take
	resp, err := hc.Do(hreq)
	if err != nil {
		return res, fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var eb ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
			eb.Error = strings.TrimSpace(string(data))
		}
		return res, &APIError{Status: resp.StatusCode, Message: eb.Error}
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		if ctx.Err() != nil {
			res.Interrupted = true // what was written stands
			return res, nil
		}
		return res, fmt.Errorf("admin API: capture: %w", err)
	}
	res.Packets, _ = strconv.Atoi(resp.Trailer.Get(TrailerCapturePackets))
	res.Lost, _ = strconv.Atoi(resp.Trailer.Get(TrailerCaptureLost))
	return res, nil
}
