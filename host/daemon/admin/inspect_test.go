package admin

import "testing"

func TestGroupImports(t *testing.T) {
	got := groupImports([]string{"wasi_snapshot_preview1.fd_write", "memif_wasm.log", "wasi_snapshot_preview1.proc_exit", "odd"})
	want := "wasi_snapshot_preview1: fd_write, proc_exit; memif_wasm: log; odd: "
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
