package memif_test

import (
	"errors"
	"io/fs"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

// TestRequestConnectionWithTimerOff: a slave with reconnecting off makes
// one attempt when created and then connects only when asked, each time
// a master has come back.
func TestRequestConnectionWithTimerOff(t *testing.T) {
	memiftest.CheckFDLeaks(t)
	path := memiftest.SocketPath(t)
	ss, err := memif.NewSocket(memif.SocketConfig{Path: path, ReconnectInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	slave, err := ss.NewInterface(memif.InterfaceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return errors.Is(slave.LastError(), fs.ErrNotExist) })
	for round := range 2 {
		ms, err := memif.NewSocket(memif.SocketConfig{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		m, err := ms.NewInterface(memif.InterfaceConfig{Role: memif.RoleMaster})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.RequestConnection(); !errors.Is(err, memif.ErrInvalid) {
			t.Errorf("master RequestConnection: %v, want ErrInvalid", err)
		}
		// A slave that retried on its own would connect within a few
		// milliseconds of the master appearing.
		time.Sleep(50 * time.Millisecond)
		if slave.Connected() {
			t.Fatalf("round %d: slave connected with its timer off before it was asked", round)
		}
		if err := slave.RequestConnection(); err != nil {
			t.Fatalf("round %d: RequestConnection: %v", round, err)
		}
		if err := slave.WaitConnected(ctxT(t)); err != nil {
			t.Fatalf("round %d: %v (last error %v)", round, err, slave.LastError())
		}
		if err := slave.RequestConnection(); !errors.Is(err, memif.ErrConnected) {
			t.Errorf("RequestConnection while connected: %v, want ErrConnected", err)
		}
		if _, err := txq(t, slave, 0).WritePackets([][]byte{{byte(round)}}); err != nil {
			t.Fatal(err)
		}
		recvPackets(t, rxq(t, m, 0), 1)
		ms.Close()
		waitFor(t, func() bool { return !slave.Connected() })
	}
	if st := slave.Stats(); st.Connects != 2 || st.Disconnects != 2 {
		t.Errorf("stats %+v, want 2 connects and 2 disconnects", st)
	}
	slave.Close()
	if err := slave.RequestConnection(); !errors.Is(err, memif.ErrClosed) {
		t.Errorf("RequestConnection after Close: %v, want ErrClosed", err)
	}
}

// TestRequestConnectionSkipsTimer: with the timer on, a request connects
// without waiting out a long reconnect interval.
func TestRequestConnectionSkipsTimer(t *testing.T) {
	path := memiftest.SocketPath(t)
	ss, err := memif.NewSocket(memif.SocketConfig{Path: path, ReconnectInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	slave, err := ss.NewInterface(memif.InterfaceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return slave.LastError() != nil })
	ms, err := memif.NewSocket(memif.SocketConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	if _, err := ms.NewInterface(memif.InterfaceConfig{Role: memif.RoleMaster}); err != nil {
		t.Fatal(err)
	}
	if err := slave.RequestConnection(); err != nil {
		t.Fatal(err)
	}
	if err := slave.WaitConnected(ctxT(t)); err != nil {
		t.Fatalf("%v (last error %v)", err, slave.LastError())
	}
}
