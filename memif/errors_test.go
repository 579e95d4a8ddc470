package memif_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/memif"
)

// TestErrorsReadLikeGo: package memif's errors are lower case, end
// without a period, start with "memif: " and say nothing of C libmemif.
func TestErrorsReadLikeGo(t *testing.T) {
	all := []error{
		memif.ErrClosed, memif.ErrDisconnected, memif.ErrInvalid, memif.ErrNoQueue, memif.ErrRingFull,
		memif.ErrShortBuffer, memif.ErrTooLarge, memif.ErrIDInUse, memif.ErrSocketInUse, memif.ErrNotSocket, memif.ErrConnected,
		memif.ErrConnecting, memif.ErrProtocol, memif.ErrVersion, memif.ErrUnknownInterface, memif.ErrModeMismatch,
		memif.ErrSecret, memif.ErrLimit, memif.ErrUnsealedRegion, memif.ErrRegionFault, memif.ErrBadDescriptor,
		memif.ErrBadRingIndex, memif.ErrPeerDisconnected,
	}
	seen := map[string]bool{}
	for _, e := range all {
		msg := e.Error()
		rest, ok := strings.CutPrefix(msg, "memif: ")
		if !ok || rest == "" || strings.HasSuffix(msg, ".") || strings.ToLower(rest[:1]) != rest[:1] || seen[msg] {
			t.Errorf("%q: want a distinct lower-case \"memif: ...\" without a final period", msg)
		}
		seen[msg] = true
		for _, c := range []string{"MEMIF_DBG", "(internal error)", "libmemif"} {
			if strings.Contains(msg, c) {
				t.Errorf("%q speaks C libmemif (%q)", msg, c)
			}
		}
	}
}

func TestDisconnectErrorMatching(t *testing.T) {
	remote := &memif.DisconnectError{Remote: true, Code: 28, Reason: "mode mismatch"}
	wrapped := fmt.Errorf("ctx: %w", remote)
	if !errors.Is(wrapped, memif.ErrPeerDisconnected) || errors.Is(wrapped, memif.ErrModeMismatch) {
		t.Error("a peer's DisconnectError matches ErrPeerDisconnected and nothing of this side's")
	}
	if got, want := remote.Error(), "memif: peer ended the connection: mode mismatch (code 28)"; got != want {
		t.Errorf("remote: %q, want %q", got, want)
	}
	closedByPeer := &memif.DisconnectError{Remote: true, Reason: "peer closed the control channel"}
	if got, want := closedByPeer.Error(), "memif: peer ended the connection: peer closed the control channel"; got != want {
		t.Errorf("remote without code: %q, want %q", got, want)
	}
	local := &memif.DisconnectError{Reason: "s2m ring 0: descriptor outside its region", Err: memif.ErrBadDescriptor}
	if !errors.Is(local, memif.ErrBadDescriptor) || errors.Is(local, memif.ErrPeerDisconnected) {
		t.Error("a local DisconnectError matches its kind only")
	}
	if got, want := local.Error(), "memif: connection ended: s2m ring 0: descriptor outside its region"; got != want {
		t.Errorf("local: %q, want %q", got, want)
	}
	closed := &memif.DisconnectError{Reason: "interface closed", Err: memif.ErrClosed}
	if got, want := closed.Error(), "memif: connection ended: interface closed"; got != want || !errors.Is(closed, memif.ErrClosed) {
		t.Errorf("Close's disconnect: %q, want %q and ErrClosed", got, want)
	}
}
