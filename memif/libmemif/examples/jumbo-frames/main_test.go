package main

import (
	"bytes"
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

func TestJumboFrames(t *testing.T) {
	for _, slave := range []bool{false, true} {
		t.Run(fmt.Sprintf("slave=%v", slave), func(t *testing.T) {
			const queues, bursts = 2, 3
			cfg := config{Socket: memiftest.SocketPath(t), ConnID: 1, Slave: slave, Secret: "secret", Queues: queues,
				BufferSize: 2048, Step: 1500, Max: 9000, Interval: 10 * time.Millisecond, Bursts: bursts}
			peerCfg := memif.InterfaceConfig{ID: 1, Secret: "secret", RxQueues: queues, TxQueues: queues, BufferSize: 2048}
			p, ex := exampletest.Start(t, cfg.Socket, slave, peerCfg, func(ctx context.Context, out io.Writer) error { return run(ctx, cfg, out) })
			// 1500, 3000, 6000 | 3000, 6000, 9000 | 4500, 9000, 9000
			wantSizes := []int{1500, 3000, 6000, 3000, 6000, 9000, 4500, 9000, 9000}
			var want []string
			for q := range queues {
				got := exampletest.Recv(t, p, q, len(wantSizes))
				for i, pkt := range got {
					exp := make([]byte, wantSizes[i])
					fill(exp)
					if !bytes.Equal(pkt, exp) {
						t.Fatalf("queue %d packet %d: %d bytes, want %d with the pattern", q, i, len(pkt), wantSizes[i])
					}
				}
				// And the other way: jumbo frames up to 9000 bytes.
				var in [][]byte
				for _, n := range []int{2049, 9000, 64} {
					pkt := make([]byte, n)
					fill(pkt)
					in = append(in, pkt)
					want = append(want, fmt.Sprintf("received queue=%d: %d bytes intact\n", q, n))
				}
				exampletest.Send(t, p, q, in...)
			}
			ex.WaitOutput(t, want...)
			out, err := ex.Stop()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out, "CORRUPT") || strings.Contains(out, "error") {
				t.Fatalf("output:\n%s", out)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-slave", "-step", "1000", "-max", "9000", "-buffer-size", "1024", "-queues", "1"}, io.Discard)
	if err != nil || !cfg.Slave || cfg.Step != 1000 || cfg.BufferSize != 1024 || cfg.Queues != 1 {
		t.Fatalf("%+v, %v", cfg, err)
	}
	if s := sizes(cfg, 3); s != [3]int{3000, 6000, 9000} {
		t.Fatalf("sizes %v", s)
	}
	for _, bad := range [][]string{{"-max", "70000"}, {"-step", "0"}, {"-step", "10", "-max", "5"}, {"-buffer-size", "0"}, {"-queues", "0"}, {"-interval", "0s"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
