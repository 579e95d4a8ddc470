package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/memif"
	"github.com/memif-wasm/memif-wasm/memif/libmemif/internal/exampletest"
	"github.com/memif-wasm/memif-wasm/memif/memiftest"
)

func testConfig(socket string, slave bool, queues uint8) config {
	return config{Socket: socket, ConnID: 7, Slave: slave, Secret: "s3cret", MAC: exampletest.ResponderMAC, IP: exampletest.ResponderIP, Queues: queues}
}

// start runs the example and a native peer of the other role, connected.
func start(t *testing.T, cfg config, queues int) (*memif.Interface, *exampletest.Example) {
	peerCfg := memif.InterfaceConfig{ID: cfg.ConnID, Secret: cfg.Secret, RxQueues: queues, TxQueues: queues}
	return exampletest.Start(t, cfg.Socket, cfg.Slave, peerCfg, func(ctx context.Context, out io.Writer) error { return run(ctx, cfg, out) })
}

func TestICMPResponder(t *testing.T) {
	for _, slave := range []bool{false, true} {
		name := "master"
		if slave {
			name = "slave"
		}
		t.Run(name, func(t *testing.T) {
			p, ex := start(t, testConfig(memiftest.SocketPath(t), slave, 1), 1)

			exampletest.Send(t, p, 0, exampletest.ARPRequest(t))
			if got, want := exampletest.Recv(t, p, 0, 1)[0], exampletest.ARPReply(t); !bytes.Equal(got, want) {
				t.Fatalf("ARP reply\n% x\nwant\n% x", got, want)
			}

			// A request for another address gets nothing: the next reply
			// is the one to the request after it.
			other := exampletest.ARPRequest(t)
			other[41] = 99
			payloads := [][]byte{[]byte("hello"), bytes.Repeat([]byte{0xab}, 1472), bytes.Repeat([]byte{0x5a}, 8000)}
			reqs := [][]byte{other}
			for i, pl := range payloads {
				reqs = append(reqs, exampletest.EchoRequest(t, 0x42, uint16(i), pl))
			}
			exampletest.Send(t, p, 0, reqs...)
			got := exampletest.Recv(t, p, 0, len(payloads))
			for i, pl := range payloads {
				if want := exampletest.EchoReply(t, 0x42, uint16(i), pl); !bytes.Equal(got[i], want) {
					t.Fatalf("echo reply %d (%d bytes): got %d bytes\n% x\nwant\n% x", i, len(want), len(got[i]), got[i][:min(64, len(got[i]))], want[:64])
				}
			}
			out, err := ex.Stop()
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if !strings.Contains(out, "connected to") || !strings.Contains(out, "disconnected after 4 replies") {
				t.Fatalf("output:\n%s", out)
			}
		})
	}
}

func TestICMPResponderQueues(t *testing.T) {
	p, _ := start(t, testConfig(memiftest.SocketPath(t), false, 2), 2)
	for q := range 2 {
		exampletest.Send(t, p, q, exampletest.EchoRequest(t, uint16(q), 1, []byte("q")))
		if got, want := exampletest.Recv(t, p, q, 1)[0], exampletest.EchoReply(t, uint16(q), 1, []byte("q")); !bytes.Equal(got, want) {
			t.Fatalf("queue %d: reply differs", q)
		}
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-socket", "@x", "-id", "3", "-slave", "-ip", "10.0.0.1", "-queues", "2"}, io.Discard)
	if err != nil || cfg.Socket != "@x" || cfg.ConnID != 3 || !cfg.Slave || cfg.IP.String() != "10.0.0.1" || cfg.Queues != 2 {
		t.Fatalf("%+v, %v", cfg, err)
	}
	for _, bad := range [][]string{
		{"-ip", "::1"}, {"-ip", "x"}, {"-mac", "zz"}, {"-queues", "0"}, {"-queues", "256"}, {"-id", "4294967296"}, {"-nope"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
