// Command chartrender prints what `helm template` prints for a chart,
// through Helm's own library (package chart), for machines without the helm
// binary; --lint also runs helm lint's rules.
//
//	chartrender --chart helm/memif-wasm [-f values.yaml ...] [--name R] [--namespace NS] [--out FILE]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/memif-wasm/memif-wasm/deploy/chart"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chartrender:", err)
		os.Exit(1)
	}
}

type listFlag []string

func (l *listFlag) String() string     { return fmt.Sprint(*l) }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("chartrender", flag.ContinueOnError)
	var o chart.Options
	var dir, out string
	var doLint bool
	fs.StringVar(&dir, "chart", "helm/memif-wasm", "chart directory")
	fs.StringVar(&o.Release, "name", "memif-wasm", "release name")
	fs.StringVar(&o.Namespace, "namespace", "memif-wasm", "release namespace")
	fs.Var((*listFlag)(&o.ValuesFiles), "f", "values file (repeatable; later ones win)")
	fs.StringVar(&out, "out", "", "write to this file instead of stdout")
	fs.BoolVar(&doLint, "lint", false, "also run helm lint's rules and fail on a warning")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if doLint {
		if err := chart.Lint(dir, o); err != nil {
			return fmt.Errorf("lint: %w", err)
		}
	}
	ms, err := chart.Render(dir, o)
	if err != nil {
		return err
	}
	text := chart.Join(ms)
	if out == "" {
		_, err = io.WriteString(stdout, text)
		return err
	}
	return os.WriteFile(out, []byte(chart.Generated(dir, o)+text), 0o644)
}
