package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/libmemif/internal/exampletest"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

func TestMultiQueue(t *testing.T) {
	for _, slave := range []bool{false, true} {
		t.Run(fmt.Sprintf("slave=%v", slave), func(t *testing.T) {
			cfg := config{Socket: memiftest.SocketPath(t), ConnID: 5, Slave: slave, MAC: exampletest.ResponderMAC, IP: exampletest.ResponderIP, PollIdle: 50 * time.Microsecond}
			peerCfg := memif.InterfaceConfig{ID: 5, RxQueues: 2, TxQueues: 2}
			p, ex := exampletest.Start(t, cfg.Socket, slave, peerCfg, func(ctx context.Context, out io.Writer) error { return run(ctx, cfg, out) })
			ex.WaitOutput(t, "connected: queue 0 polling, queue 1 interrupt")
			// The example's rx rings are the peer's tx rings: queue 0
			// masks interrupts, queue 1 does not.
			d := p.Details()
			if d.TxQueues[0].Flags&1 == 0 || d.TxQueues[1].Flags&1 != 0 {
				t.Fatalf("peer tx ring flags %#x %#x, want MASK_INT on queue 0 only", d.TxQueues[0].Flags, d.TxQueues[1].Flags)
			}
			const n = 50
			for q := range 2 {
				var reqs [][]byte
				for i := range n {
					reqs = append(reqs, exampletest.EchoRequest(t, uint16(q), uint16(i), bytes.Repeat([]byte{byte(i)}, 32+i)))
				}
				reqs = append(reqs, exampletest.ARPRequest(t))
				exampletest.Send(t, p, q, reqs...)
			}
			for q := range 2 {
				got := exampletest.Recv(t, p, q, n+1)
				for i := range n {
					if want := exampletest.EchoReply(t, uint16(q), uint16(i), bytes.Repeat([]byte{byte(i)}, 32+i)); !bytes.Equal(got[i], want) {
						t.Fatalf("queue %d reply %d differs:\n% x\nwant\n% x", q, i, got[i], want)
					}
				}
				if !bytes.Equal(got[n], exampletest.ARPReply(t)) {
					t.Fatalf("queue %d: ARP reply differs", q)
				}
			}
			// Close the peer so the counters are printed.
			p.Close()
			ex.WaitOutput(t, fmt.Sprintf("disconnected: queue 0 sent %d replies, queue 1 sent %d", n+1, n+1))
			if _, err := ex.Stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-slave", "-poll-idle", "0s", "-id", "9"}, io.Discard)
	if err != nil || !cfg.Slave || cfg.PollIdle != 0 || cfg.ConnID != 9 {
		t.Fatalf("%+v, %v", cfg, err)
	}
	for _, bad := range [][]string{{"-poll-idle", "-1s"}, {"-ip", "x"}, {"-mac", "x"}, {"-id", "-1"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
