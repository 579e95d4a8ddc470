package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Top polls the daemon's stats every interval and writes the rates of each
// interval to w: as one JSON object per refresh (jsonOut), or as the text
// view, after clearing the screen when redraw (a terminal). It stops after
// iterations refreshes (0: until ctx is done, which is not an error).
func (c *Client) Top(ctx context.Context, interval time.Duration, iterations int, jsonOut, redraw bool, w io.Writer) error {
	prev, err := c.Stats(ctx)
	if err != nil {
		return err
	}
	last := time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for n := 0; iterations == 0 || n < iterations; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		cur, err := c.Stats(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		now := time.Now()
		top := TopOf(prev, cur, now.Sub(last))
		prev, last = cur, now
		switch {
		case jsonOut:
			json.NewEncoder(w).Encode(top)
			continue
		case redraw:
			io.WriteString(w, "\x1b[H\x1b[2J") // home, clear screen
		case n > 0:
			fmt.Fprintln(w)
		}
		WriteTop(w, top, now)
	}
	return nil
}

// CaptureFile is Capture into the file path ("-": into stdout). A file
// that the capture failed to fill is removed rather than left broken; an
// interrupted capture keeps what it wrote.
func (c *Client) CaptureFile(ctx context.Context, tenant, iface string, req CaptureRequest, path string, stdout io.Writer) (CaptureResult, error) {
	if path == "-" {
		return c.Capture(ctx, tenant, iface, req, stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return CaptureResult{}, fmt.Errorf("capture: %w", err)
	}
	res, err := c.Capture(ctx, tenant, iface, req, f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("capture: %w", cerr)
	}
	if err != nil {
		os.Remove(path)
	}
	return res, err
}

// SplitPath splits an admin path of k names, TENANT/INTERFACE (k = 2) or
// TENANT/INTERFACE/PLUGIN (k = 3); ok is false unless it has k non-empty
// names.
func SplitPath(s string, k int) (names []string, ok bool) {
	names = strings.Split(s, "/")
	if len(names) != k {
		return nil, false
	}
	for _, x := range names {
		if x == "" {
			return nil, false
		}
	}
	return names, true
}
