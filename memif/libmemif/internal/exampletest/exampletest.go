// Package exampletest holds test helpers for the libmemif examples: ARP
// and ICMPv4 frames built with gopacket (requests and the replies expected
// byte for byte) and a native memif peer. It is imported by tests only.
package exampletest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/memif-wasm/memif-wasm/memif"
)

// Wait bounds every wait of the example tests.
const Wait = 10 * time.Second

// Addresses used by the example tests: the example answers for Responder*,
// the peer asks as Peer*.
var (
	ResponderMAC = net.HardwareAddr{0x02, 0xfe, 0x00, 0x00, 0x00, 0x01}
	ResponderIP  = net.IPv4(192, 168, 1, 1).To4()
	PeerMAC      = net.HardwareAddr{0x02, 0xfe, 0x00, 0x00, 0x00, 0x02}
	PeerIP       = net.IPv4(192, 168, 1, 2).To4()
)

func serialize(t testing.TB, l ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, l...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// ARPRequest asks who has ResponderIP, from the peer, broadcast.
func ARPRequest(t testing.TB) []byte {
	return serialize(t,
		&layers.Ethernet{SrcMAC: PeerMAC, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: PeerMAC, SourceProtAddress: PeerIP,
			DstHwAddress: make([]byte, 6), DstProtAddress: ResponderIP})
}

// ARPReply is the answer ARPRequest must get.
func ARPReply(t testing.TB) []byte {
	return serialize(t,
		&layers.Ethernet{SrcMAC: ResponderMAC, DstMAC: PeerMAC, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPReply, SourceHwAddress: ResponderMAC, SourceProtAddress: ResponderIP,
			DstHwAddress: PeerMAC, DstProtAddress: PeerIP})
}

func echo(t testing.TB, reply bool, id, seq uint16, payload []byte) []byte {
	eth := &layers.Ethernet{SrcMAC: PeerMAC, DstMAC: ResponderMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 17, TOS: 0x10, Id: 0x1234 + seq, Flags: layers.IPv4DontFragment,
		Protocol: layers.IPProtocolICMPv4, SrcIP: PeerIP, DstIP: ResponderIP}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: id, Seq: seq}
	if reply {
		eth.SrcMAC, eth.DstMAC = ResponderMAC, PeerMAC
		ip.SrcIP, ip.DstIP, ip.TTL = ResponderIP, PeerIP, 64
		icmp.TypeCode = layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoReply, 0)
	}
	return serialize(t, eth, ip, icmp, gopacket.Payload(payload))
}

// EchoRequest is an ICMPv4 echo request from the peer to the responder.
func EchoRequest(t testing.TB, id, seq uint16, payload []byte) []byte {
	return echo(t, false, id, seq, payload)
}

// EchoReply is the answer EchoRequest(id, seq, payload) must get.
func EchoReply(t testing.TB, id, seq uint16, payload []byte) []byte {
	return echo(t, true, id, seq, payload)
}

// Peer creates a native memif interface on path; it is closed when the
// test ends. A slave peer retries every 20 ms until the example listens.
func Peer(t testing.TB, path string, cfg memif.InterfaceConfig) *memif.Interface {
	t.Helper()
	s, err := memif.NewSocket(memif.SocketConfig{Path: path, AppName: "example-peer", ReconnectInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("peer socket: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	ifc, err := s.NewInterface(cfg)
	if err != nil {
		t.Fatalf("peer interface: %v", err)
	}
	return ifc
}

// Connected waits until the peer has link.
func Connected(t testing.TB, p *memif.Interface) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	if err := p.WaitConnected(ctx); err != nil {
		t.Fatalf("peer did not connect: %v (last error %v)", err, p.LastError())
	}
}

// Example is a running example: see Run.
type Example struct {
	out    Buffer
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// Run starts an example's run function in a goroutine. The example is
// stopped when the test ends if the test has not done so.
func Run(t testing.TB, run func(ctx context.Context, out io.Writer) error) *Example {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e := &Example{cancel: cancel, done: make(chan error, 1)}
	go func() { e.done <- run(ctx, &e.out) }()
	t.Cleanup(func() { e.Stop() })
	return e
}

// Start runs an example (its run function) and a native peer of the other
// role on socket, and returns both once they are connected. When the
// example is the slave (exampleSlave), the master peer starts first: a slave
// that finds nobody waits 2 s before it retries.
func Start(t testing.TB, socket string, exampleSlave bool, peerCfg memif.InterfaceConfig, run func(ctx context.Context, out io.Writer) error) (*memif.Interface, *Example) {
	t.Helper()
	var p *memif.Interface
	if exampleSlave {
		peerCfg.Role = memif.RoleMaster
		p = Peer(t, socket, peerCfg)
	}
	ex := Run(t, run)
	if !exampleSlave {
		p = Peer(t, socket, peerCfg)
	}
	Connected(t, p)
	return p, ex
}

// Output is what the example printed so far.
func (e *Example) Output() string { return e.out.String() }

// Stop cancels the example's context, waits for run to return and returns
// its output and error.
func (e *Example) Stop() (string, error) {
	e.once.Do(func() {
		e.cancel()
		select {
		case e.err = <-e.done:
		case <-time.After(Wait):
			e.err = errors.New("example did not stop")
		}
	})
	return e.out.String(), e.err
}

// WaitOutput waits until the example's output contains every line in
// want, or fails the test after Wait.
func (e *Example) WaitOutput(t testing.TB, want ...string) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for {
		out, missing := e.Output(), ""
		for _, w := range want {
			if !strings.Contains(out, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("example output lacks %q:\n%s", missing, out)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Buffer is a bytes.Buffer safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Send transmits every packet on the peer's tx queue q.
func Send(t testing.TB, p *memif.Interface, q int, pkts ...[]byte) {
	t.Helper()
	tx, err := p.TxQueue(q)
	if err != nil {
		t.Fatalf("peer tx queue %d: %v", q, err)
	}
	deadline := time.Now().Add(Wait)
	for len(pkts) > 0 {
		n, err := tx.WritePackets(pkts)
		if err != nil && err != memif.ErrRingFull {
			t.Fatalf("peer send: %v", err)
		}
		pkts = pkts[n:]
		if n == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("peer could not send %d packets", len(pkts))
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// Recv receives n packets on the peer's rx queue q (chains joined), or
// fails the test after Wait.
func Recv(t testing.TB, p *memif.Interface, q, n int) [][]byte {
	t.Helper()
	rx, err := p.RxQueue(q)
	if err != nil {
		t.Fatalf("peer rx queue %d: %v", q, err)
	}
	bufs := make([]memif.Buffer, rx.RingSize())
	var out [][]byte
	var cur []byte
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	for len(out) < n {
		k, err := rx.RxBurst(bufs)
		if err != nil {
			t.Fatalf("peer receive: %v", err)
		}
		for _, b := range bufs[:k] {
			cur = append(cur, b.Data...)
			if b.Flags&memif.BufferNext == 0 {
				out = append(out, cur)
				cur = nil
			}
		}
		if err := rx.Release(k); err != nil {
			t.Fatalf("peer release: %v", err)
		}
		if k == 0 {
			wctx, wcancel := context.WithTimeout(ctx, 5*time.Millisecond)
			rx.Wait(wctx) // either mode: poll at least every 5 ms
			wcancel()
			if ctx.Err() != nil {
				t.Fatalf("peer received %d of %d packets", len(out), n)
			}
		}
	}
	return out
}

// Quiet checks that the peer's rx queue q gets nothing within d.
func Quiet(t testing.TB, p *memif.Interface, q int, d time.Duration) {
	t.Helper()
	rx, err := p.RxQueue(q)
	if err != nil {
		t.Fatalf("peer rx queue %d: %v", q, err)
	}
	bufs := make([]memif.Buffer, 8)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		n, err := rx.RxBurst(bufs)
		if err != nil {
			t.Fatalf("peer receive: %v", err)
		}
		if n > 0 {
			t.Fatalf("peer got an unexpected %d-byte packet", len(bufs[0].Data))
		}
		time.Sleep(time.Millisecond)
	}
}
