package admin

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/host/daemon"
	"github.com/memif-wasm/memif-wasm/memif"
)

// masterDetails is a connected master's view: its slave sized the buffers.
func masterDetails() *InterfaceDetails {
	return &InterfaceDetails{
		Memif: memif.Details{
			Name: "memif0", Role: memif.RoleMaster, Connected: true, Socket: "/run/x.sock",
			RxQueues: []memif.QueueDetails{{Index: 0, RingSize: 1024, Mode: memif.RxModePolling, Head: 7, Tail: 7}},
			TxQueues: []memif.QueueDetails{{Index: 0, RingSize: 1024, Head: 3, Tail: 3}},
		},
		Stats: daemon.InterfaceSnapshot{Name: "memif0", Memif: memif.Stats{
			RxQueues: []memif.QueueStats{{Packets: 1234, Bytes: 78976}},
			TxQueues: []memif.QueueStats{{Packets: 1200, Bytes: 76800, RingFull: 5}},
		}},
	}
}

// ctl show on a master: no "BUFFER 0", the rx mode, per-queue counters.
func TestWriteDetailsMaster(t *testing.T) {
	var b strings.Builder
	WriteDetails(&b, masterDetails())
	out := b.String()
	for _, re := range []string{
		`(?m)^\s+QUEUE\s+RING\s+BUFFER\s+RX MODE\s+HEAD\s+TAIL\s+FLAGS\s+PACKETS\s+BYTES\s+RING FULL\s+BAD DESC$`,
		`(?m)^\s+0\s+1024\s+per-desc\s+polling\s+7\s+7\s+0x0\s+1234\s+78976\s+0\s+0$`,
		`(?m)^\s+0\s+1024\s+per-desc\s+-\s+3\s+3\s+0x0\s+1200\s+76800\s+5\s+0$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("show lacks %s:\n%s", re, out)
		}
	}
	js, err := json.Marshal(NewShowV1(masterDetails()))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`"rx_mode":"polling"`, `"buffer_size_bytes":0`, `"packets":1234`, `"role":"master"`, `"ring_full":5`} {
		if !strings.Contains(string(js), w) {
			t.Errorf("show --json lacks %s: %s", w, js)
		}
	}
}
