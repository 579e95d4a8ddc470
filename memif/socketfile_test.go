package memif_test

import (
	"errors"
	"os"
	"strconv"
	"syscall"
	"testing"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// A master's socket file gets the mode, owner and group asked for, before a
// peer can connect; a slave still connects through it.
func TestSocketFile(t *testing.T) {
	path := memiftest.SocketPath(t)
	file := memif.SocketFile{Mode: 0o660, Owner: strconv.Itoa(os.Getuid()), Group: strconv.Itoa(os.Getgid())}
	memiftest.Pair(t, &memiftest.Options{Socket: memif.SocketConfig{Path: path, File: file}}) // connected: the slave got in
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o660 || int(st.Uid) != os.Getuid() || int(st.Gid) != os.Getgid() {
		t.Errorf("socket file %v uid %d gid %d", fi.Mode(), st.Uid, st.Gid)
	}
}

func TestSocketFileRefused(t *testing.T) {
	for _, f := range []memif.SocketFile{
		{Mode: 0o4755},
		{Owner: "no-such-user-memif"},
		{Group: "no-such-group-memif"},
	} {
		if _, err := memif.NewSocket(memif.SocketConfig{Path: memiftest.SocketPath(t), File: f}); !errors.Is(err, memif.ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", f, err)
		}
	}
	// Abstract sockets have no file: nothing to set, nothing refused.
	if err := (memif.SocketFile{Mode: 0o600}).Apply("@abstract"); err != nil {
		t.Errorf("abstract: %v", err)
	}
}
