package daemon

import (
	"errors"
	"fmt"
	"log/slog"
)

// ErrNotReady wraps the reasons Ready gives.
var ErrNotReady = errors.New("not ready")

// Ready reports whether the daemon does what its config says: every
// configured interface is open (a master listening on its socket, a slave
// connecting to its master; a connected link is not required, since the
// peer is someone else's) and every configured plugin is loaded in every
// worker's pipeline. The error lists each thing that is not.
func (d *Daemon) Ready() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("%w: %w", ErrNotReady, ErrClosed)
	}
	var errs []error
	for _, t := range d.tenants {
		for _, p := range t.ports {
			if p.iface == nil {
				errs = append(errs, fmt.Errorf("interface %s is not open", p.label()))
				continue
			}
			if len(p.plugins) != len(p.cfg.Plugins) {
				errs = append(errs, fmt.Errorf("interface %s: %d of %d plugins loaded", p.label(), len(p.plugins), len(p.cfg.Plugins)))
			}
			for _, w := range p.workers {
				if w.pipe == nil {
					errs = append(errs, fmt.Errorf("interface %s queue %d: no pipeline", p.label(), w.q))
				}
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrNotReady, errors.Join(errs...))
	}
	return nil
}

// LogStartup logs what the daemon runs, once, as an operator reads it
// after a start: the build (see ReadBuildInfo), then one line per
// interface with its tenant, socket, role and id, and one per plugin with
// the sha256 of the module it runs.
func (d *Daemon) LogStartup(log *slog.Logger, attrs ...any) {
	bi := ReadBuildInfo()
	d.mu.Lock()
	defer d.mu.Unlock()
	nIf, nPl := 0, 0
	for _, t := range d.tenants {
		for _, p := range t.ports {
			nIf++
			nPl += len(p.plugins)
		}
	}
	log.Info("memif-wasm running", append([]any{"version", bi.Version, "revision", bi.Revision, "go", bi.GoVersion, "wazero", bi.WazeroVersion,
		"tenants", len(d.tenants), "interfaces", nIf, "plugins", nPl}, attrs...)...)
	for _, t := range d.tenants {
		for _, p := range t.ports {
			log.Info("interface", "tenant", t.name, "interface", p.cfg.Name, "socket", p.cfg.SocketPath(),
				"role", p.cfg.MemifRole().String(), "id", p.cfg.ID, "queues", len(p.workers))
			for i, pl := range p.plugins {
				attrs := []any{"tenant", t.name, "interface", p.cfg.Name, "plugin", pl.name, "position", i,
					"file", pl.cfg.File, "sha256", pl.mod.Info().SHA256}
				if pl.cfg.Source != "" {
					attrs = append(attrs, "source", pl.cfg.Source, "digest", pl.digest)
				}
				if pl.signedBy != "" {
					attrs = append(attrs, "signed_by", pl.signedBy)
				}
				log.Info("plugin", attrs...)
			}
		}
	}
}
