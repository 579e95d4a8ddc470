package memif_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/memif"
)

func TestErrorCodesMatchLibmemif(t *testing.T) {
	seen := map[string]bool{}
	for c := 1; c <= 39; c++ {
		e := memif.ErrorByCode(c)
		if e == nil || e.Code != c {
			t.Fatalf("ErrorByCode(%d) = %v", c, e)
		}
		if seen[e.Msg] || !strings.HasPrefix(e.Error(), "memif: ") {
			t.Errorf("code %d: message %q duplicated or unprefixed", c, e.Msg)
		}
		seen[e.Msg] = true
	}
	for _, c := range []int{0, -1, 40} {
		if memif.ErrorByCode(c) != nil {
			t.Errorf("ErrorByCode(%d) not nil", c)
		}
	}
	spot := map[*memif.Error]struct {
		code int
		msg  string
	}{
		memif.ErrNoBufRing:    {18, "Ring buffer full."},
		memif.ErrSecret:       {29, "Secret mismatch."},
		memif.ErrDisconnected: {35, "Interface is disconnected."},
		memif.ErrPrivHdr:      {39, "Private headers not supported."},
	}
	for e, want := range spot {
		if e.Code != want.code || e.Msg != want.msg {
			t.Errorf("%v: code %d, want %d %q", e, e.Code, want.code, want.msg)
		}
	}
}

func TestDisconnectErrorMatching(t *testing.T) {
	remote := &memif.DisconnectError{Remote: true, Code: 28, Reason: "mode mismatch"}
	wrapped := fmt.Errorf("ctx: %w", remote)
	if !errors.Is(wrapped, memif.ErrMode) || !errors.Is(wrapped, memif.ErrDisconnect) || errors.Is(wrapped, memif.ErrSecret) {
		t.Error("remote DisconnectError matching")
	}
	local := &memif.DisconnectError{Code: 0, Reason: "bad", Err: memif.ErrBadDescriptor}
	if !errors.Is(local, memif.ErrBadDescriptor) || errors.Is(local, memif.ErrDisconnect) {
		t.Error("local DisconnectError matching")
	}
	if !strings.Contains(remote.Error(), "peer") || !strings.Contains(local.Error(), "local") {
		t.Errorf("messages %q / %q", remote, local)
	}
	closed := &memif.DisconnectError{Code: 34, Reason: "interface closed", Err: memif.ErrClosed}
	if got, want := closed.Error(), "memif: disconnected (local, code 34): interface closed"; got != want || !errors.Is(closed, os.ErrClosed) {
		t.Errorf("Close's disconnect: %q (errors.Is os.ErrClosed: %v), want %q and true", got, errors.Is(closed, os.ErrClosed), want)
	}
}
