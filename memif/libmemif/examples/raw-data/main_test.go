package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/libmemif/internal/exampletest"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

func TestRawData(t *testing.T) {
	for _, slave := range []bool{false, true} {
		t.Run(fmt.Sprintf("slave=%v", slave), func(t *testing.T) {
			const queues, bursts = 3, 2
			cfg := config{Socket: memiftest.SocketPath(t), ConnID: 1, Slave: slave, Secret: "secret", Queues: queues, Interval: 10 * time.Millisecond, Bursts: bursts}
			peerCfg := memif.InterfaceConfig{ID: 1, Secret: "secret", RxQueues: queues, TxQueues: queues}
			p, ex := exampletest.Start(t, cfg.Socket, slave, peerCfg, func(ctx context.Context, out io.Writer) error { return run(ctx, cfg, out) })
			for q := range queues {
				got := exampletest.Recv(t, p, q, 3*bursts)
				for i, pkt := range got {
					want := fmt.Sprintf("Packet #%d in burst number %d", i%3+1, i/3+1)
					if string(pkt) != want {
						t.Fatalf("queue %d packet %d: %q, want %q", q, i, pkt, want)
					}
				}
				exampletest.Send(t, p, q, []byte(fmt.Sprintf("hello queue %d", q)))
			}
			var want []string
			for q := range queues {
				want = append(want, fmt.Sprintf("received queue=%d: hello queue %d\n", q, q))
			}
			ex.WaitOutput(t, want...)
			out, err := ex.Stop()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "memif memif1 connected to : 3 rx, 3 tx queues") || !strings.Contains(out, "memif memif1 disconnected") {
				t.Fatalf("output:\n%s", out)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-slave", "-queues", "2", "-interval", "1s", "-bursts", "4"}, io.Discard)
	if err != nil || !cfg.Slave || cfg.Queues != 2 || cfg.Interval != time.Second || cfg.Bursts != 4 {
		t.Fatalf("%+v, %v", cfg, err)
	}
	for _, bad := range [][]string{{"-queues", "0"}, {"-queues", "300"}, {"-interval", "-1s"}, {"-x"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
