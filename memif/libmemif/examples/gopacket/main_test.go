package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/libmemif/internal/exampletest"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

func TestGopacketResponder(t *testing.T) {
	for _, slave := range []bool{false, true} {
		t.Run(fmt.Sprintf("slave=%v", slave), func(t *testing.T) {
			cfg := config{Socket: memiftest.SocketPath(t), ConnID: 2, Slave: slave, MAC: exampletest.ResponderMAC, IP: exampletest.ResponderIP, Queues: 1}
			peerCfg := memif.InterfaceConfig{ID: 2}
			p, ex := exampletest.Start(t, cfg.Socket, slave, peerCfg, func(ctx context.Context, out io.Writer) error { return run(ctx, cfg, out) })

			other := exampletest.EchoRequest(t, 9, 9, []byte("not for us"))
			other[33] = 77 // destination 192.168.1.77
			other[24], other[25] = 0, 0
			badSum := exampletest.EchoRequest(t, 9, 9, []byte("bad checksum"))
			badSum[36] ^= 0xff
			payloads := [][]byte{[]byte("ping"), bytes.Repeat([]byte{7}, 1400), bytes.Repeat([]byte{9}, 8972)}
			reqs := [][]byte{exampletest.ARPRequest(t), other, badSum}
			want := [][]byte{exampletest.ARPReply(t)}
			for i, pl := range payloads {
				reqs = append(reqs, exampletest.EchoRequest(t, 0x99, uint16(i), pl))
				want = append(want, exampletest.EchoReply(t, 0x99, uint16(i), pl))
			}
			exampletest.Send(t, p, 0, reqs...)
			got := exampletest.Recv(t, p, 0, len(want))
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("reply %d: got %d bytes\n% x\nwant %d bytes\n% x", i, len(got[i]), got[i][:min(80, len(got[i]))], len(want[i]), want[i][:min(80, len(want[i]))])
				}
			}
			ex.WaitOutput(t, "connected to example-peer: 1 queues")
			if _, err := ex.Stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-slave", "-ip", "10.1.1.1", "-mac", "02:00:00:00:00:09", "-queues", "2"}, io.Discard)
	if err != nil || !cfg.Slave || cfg.IP.String() != "10.1.1.1" || cfg.MAC.String() != "02:00:00:00:00:09" || cfg.Queues != 2 {
		t.Fatalf("%+v, %v", cfg, err)
	}
	for _, bad := range [][]string{{"-ip", "fe80::1"}, {"-mac", "1"}, {"-queues", "0"}, {"-id", "4294967296"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
