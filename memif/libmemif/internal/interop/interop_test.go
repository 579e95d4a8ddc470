// Package interop_test runs the libmemif adapter against DPDK testpmd's
// memif PMD (DPDK 22.11) as a real peer. The tests run with
// MEMIF_INTEROP=1 (`make interop`) and skip otherwise. They live apart
// from package libmemif so that its benchmark binary does not link
// gopacket/layers.
package interop_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif/libmemif"
	"github.com/memif-wasm/memif-wasm/memif/libmemif/internal/exampletest"
	"github.com/memif-wasm/memif-wasm/memif/testpmd"
	"github.com/memif-wasm/memif-wasm/sdk"
)

const pmdMAC = "02:dd:00:00:00:01"

// TestInteropICMPEcho pings testpmd in icmpecho forwarding mode through
// the adapter, as master (testpmd is the client) and as slave (testpmd is
// the server), and checks every reply byte for byte.
func TestInteropICMPEcho(t *testing.T) {
	testpmd.Require(t)
	for _, master := range []bool{false, true} {
		t.Run(map[bool]string{false: "slave", true: "master"}[master], func(t *testing.T) {
			socket := filepath.Join(t.TempDir(), "memif.sock")
			cfg := &testpmd.Config{
				Ports:       []testpmd.Port{{Socket: socket, MAC: pmdMAC, BufferSize: 2048}},
				ForwardMode: "icmpecho",
			}
			if err := libmemif.Init("libmemif-interop"); err != nil {
				t.Fatal(err)
			}
			defer libmemif.Cleanup()
			up := make(chan struct{}, 1)
			cb := &libmemif.MemifCallbacks{OnConnect: func(*libmemif.Memif) error { up <- struct{}{}; return nil }}
			mcfg := &libmemif.MemifConfig{MemifMeta: libmemif.MemifMeta{IfName: "libmemif0", SocketFilename: socket, IsMaster: master}}
			var pmd *testpmd.Process
			if !master {
				// testpmd listens first; the adapter's slave dials at once.
				cfg.Ports[0].Role = testpmd.RoleServer
				pmd = testpmd.StartT(t, cfg)
			}
			m, err := libmemif.CreateInterface(mcfg, cb)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if master {
				// A DPDK client dials once: listen before it starts.
				cfg.Ports[0].Role = testpmd.RoleClient
				pmd = testpmd.StartT(t, cfg)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			select {
			case <-up:
			case <-ctx.Done():
				t.Fatalf("no connection\n--- testpmd ---\n%s", pmd.Tail(3000))
			}
			if err := pmd.WaitLinkUp(ctx, 0); err != nil {
				t.Fatal(err)
			}
			d, err := m.GetDetails()
			if err != nil || d.RemoteIfName != "net_memif0" || !d.HasLink {
				t.Fatalf("details %+v, %v", d, err)
			}
			if err := pmd.StartForwarding(ctx, false); err != nil {
				t.Fatal(err)
			}
			pmdHW, _ := net.ParseMAC(pmdMAC)

			req := exampletest.ARPRequest(t)
			got := exchange(t, m, req)
			want := arpReply(req, pmdHW)
			if !bytes.Equal(got, want) {
				t.Fatalf("ARP reply\n% x\nwant\n% x", got, want)
			}
			for i, n := range []int{0, 56, 1000, 1472} {
				pl := bytes.Repeat([]byte{byte(i + 1)}, n)
				req := exampletest.EchoRequest(t, 0x4d57, uint16(i), pl)
				got := exchange(t, m, req)
				want := echoReply(req)
				if !bytes.Equal(got, want) {
					t.Fatalf("echo reply %d\n% x\nwant\n% x", i, got, want)
				}
			}
			if _, err := pmd.StopForwarding(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// exchange sends one frame on queue 0 and returns the first frame that
// comes back.
func exchange(t *testing.T, m *libmemif.Memif, frame []byte) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := m.TxBurst(0, []libmemif.RawPacketData{frame})
		if err != nil {
			t.Fatalf("TxBurst: %v", err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("TxBurst: ring stays full")
		}
		time.Sleep(time.Millisecond)
	}
	for {
		pkts, err := m.RxBurst(0, 1)
		if err != nil {
			t.Fatalf("RxBurst: %v", err)
		}
		if len(pkts) == 1 {
			return pkts[0]
		}
		if time.Now().After(deadline) {
			t.Fatal("no reply from testpmd")
		}
		time.Sleep(time.Millisecond)
	}
}

// arpReply is what testpmd's icmpecho mode (app/test-pmd/icmpecho.c) sends
// for an ARP request: the request turned into a reply in place, with the
// port's MAC as the sender and the requested address as the sender IP.
func arpReply(req []byte, pmd net.HardwareAddr) []byte {
	r := append([]byte(nil), req...)
	copy(r[0:6], req[6:12])
	copy(r[6:12], pmd)
	a := r[14:]
	binary.BigEndian.PutUint16(a[6:8], 2)
	copy(a[18:24], req[14+8:14+14])  // target MAC = requester's MAC
	copy(a[24:28], req[14+14:14+18]) // target IP = requester's IP
	copy(a[8:14], pmd)
	copy(a[14:18], req[14+24:14+28])
	return r
}

// echoReply is what icmpecho sends for an echo request: Ethernet and IP
// addresses swapped, type 0, ICMP checksum adjusted, everything else kept.
func echoReply(req []byte) []byte {
	r := append([]byte(nil), req...)
	copy(r[0:6], req[6:12])
	copy(r[6:12], req[0:6])
	copy(r[14+12:14+16], req[14+16:14+20])
	copy(r[14+16:14+20], req[14+12:14+16])
	icmp := r[34:]
	icmp[0] = 0
	icmp[2], icmp[3] = 0, 0
	ipLen := int(binary.BigEndian.Uint16(r[16:18]))
	binary.BigEndian.PutUint16(icmp[2:4], sdk.Checksum(r[34:14+ipLen], 0))
	return r
}
