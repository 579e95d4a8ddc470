package daemon

import "github.com/memif-wasm/memif-wasm/host/table"

// Tables returns the tables the daemon's plugins declared, keyed by tenant,
// interface and table name. They live as long as the daemon: a reload keeps
// them, a restart starts empty.
func (d *Daemon) Tables() *table.Store { return d.engine.Tables() }
