package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Table is the whole matrix `memif-wasm bench` measures: every handler, with
// every placement when it has a plugin, at every size and queue count.
type Table struct {
	// Base holds Dir, CacheDir, budgets, Logger and Time of every cell. An
	// empty Dir is a temporary directory that RunTable removes at the end.
	Base       Cell
	Handlers   []Handler
	Placements []string
	Sizes      []int
	Queues     []int
	// Repeat runs each cell this many times (at least 1) and keeps the run
	// with the median round-trip rate, so one machine hiccup does not make
	// a row.
	Repeat int
	// Done, when set, is called after each cell with the number done.
	Done func(n int)
}

// RunTable runs every cell of t in order. An error names the cell.
func RunTable(ctx context.Context, t Table) ([]Row, error) {
	if t.Base.Dir == "" {
		dir, err := os.MkdirTemp("", "memif-wasm-bench")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		t.Base.Dir = dir
	}
	var rows []Row
	for _, h := range t.Handlers {
		pls := t.Placements
		if h.File == "" {
			pls = []string{"-"} // no guest: nothing to place
		}
		for _, pl := range pls {
			for _, size := range t.Sizes {
				for _, q := range t.Queues {
					if err := ctx.Err(); err != nil {
						return rows, fmt.Errorf("interrupted: %w", err)
					}
					c := t.Base
					c.Handler, c.Placement, c.Size, c.Queues = h, pl, size, q
					var runs []Row
					for range max(t.Repeat, 1) {
						row, err := Run(ctx, c)
						if err != nil {
							return rows, fmt.Errorf("%s/%s/%dB/%dq: %w", h.Name, pl, size, q, err)
						}
						runs = append(runs, row)
					}
					slices.SortFunc(runs, func(a, b Row) int { return cmp.Compare(a.RoundTripPPS, b.RoundTripPPS) })
					rows = append(rows, runs[len(runs)/2])
					if t.Done != nil {
						t.Done(len(rows))
					}
				}
			}
		}
	}
	return rows, nil
}

// ParseInts reads a comma-separated list of integers in lo..hi for flag,
// without duplicates.
func ParseInts(flag, s string, lo, hi int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < lo || n > hi {
			return nil, fmt.Errorf("%s %q: %q is not a number in %d..%d", flag, s, f, lo, hi)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// ParseWords reads a comma-separated list of allowed words for flag,
// without duplicates.
func ParseWords(flag, s string, allowed ...string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(allowed, f) {
			return nil, fmt.Errorf("%s %q: %q is not one of %s", flag, s, f, strings.Join(allowed, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// Handlers resolves handler names (native, c, go, rust) to the plugins they
// run: files[name] when given, else the example plugin of that language in
// pluginsDir (pass-c.wasm, pass.wasm, pass-rust.wasm), made absolute; a
// missing file is an error that says how to build it.
func Handlers(names []string, pluginsDir string, files map[string]string) ([]Handler, error) {
	defaults := map[string]string{"c": "pass-c.wasm", "go": "pass.wasm", "rust": "pass-rust.wasm"}
	var hs []Handler
	for _, name := range names {
		f := files[name]
		if f == "" && defaults[name] != "" {
			f = filepath.Join(pluginsDir, defaults[name])
		}
		if f != "" {
			if _, err := os.Stat(f); err != nil {
				return nil, fmt.Errorf("%s plugin %s: %w (run make plugins first in a checkout of github.com/memif-wasm/memif-wasm and give its plugins/build as --plugins-dir)", name, f, errors.Unwrap(err))
			}
			var err error
			if f, err = filepath.Abs(f); err != nil {
				return nil, err
			}
		}
		hs = append(hs, Handler{Name: name, File: f})
	}
	return hs, nil
}
