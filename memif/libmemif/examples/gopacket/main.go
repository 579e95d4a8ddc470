// gopacket answers ARP requests and ICMPv4 echo requests through a memif
// interface, reading and writing with MemifPacketHandle and decoding and
// building frames with gopacket layers.
//
// Connect it to VPP:
//
//	vpp# create interface memif id 1 socket-id 0 slave secret secret no-zero-copy
//	vpp# set int state memif0/1 up
//	vpp# set int ip address memif0/1 192.168.1.2/24
//	$ gopacket -socket /run/vpp/memif.sock -secret secret
//	vpp# ping 192.168.1.1
//
// It is the master by default; -slave makes it connect to a master.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/memif-wasm/memif-wasm/memif/libmemif"
	"github.com/memif-wasm/memif-wasm/sdk"
)

type config struct {
	Socket string
	ConnID uint32
	Slave  bool
	Secret string
	MAC    net.HardwareAddr
	IP     net.IP
	Queues uint8
}

func parseFlags(args []string, errOut io.Writer) (config, error) {
	fs := flag.NewFlagSet("gopacket", flag.ContinueOnError)
	fs.SetOutput(errOut)
	cfg := config{}
	fs.StringVar(&cfg.Socket, "socket", "/run/vpp/memif.sock", "memif control socket")
	id := fs.Uint("id", 1, "memif interface id")
	fs.BoolVar(&cfg.Slave, "slave", false, "connect as the slave instead of listening as the master")
	fs.StringVar(&cfg.Secret, "secret", "", "memif secret")
	mac := fs.String("mac", "02:fe:00:00:00:01", "Ethernet address to answer for")
	ip := fs.String("ip", "192.168.1.1", "IPv4 address to answer for")
	queues := fs.Uint("queues", 1, "queues each way (1..255)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if *id > 1<<32-1 {
		return cfg, fmt.Errorf("-id %d does not fit 32 bits", *id)
	}
	if *queues < 1 || *queues > 255 {
		return cfg, fmt.Errorf("-queues %d is outside 1..255", *queues)
	}
	cfg.ConnID, cfg.Queues = uint32(*id), uint8(*queues)
	var err error
	if cfg.MAC, err = net.ParseMAC(*mac); err != nil || len(cfg.MAC) != 6 {
		return cfg, fmt.Errorf("-mac %q is not an Ethernet address", *mac)
	}
	if cfg.IP = net.ParseIP(*ip).To4(); cfg.IP == nil {
		return cfg, fmt.Errorf("-ip %q is not an IPv4 address", *ip)
	}
	return cfg, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gopacket:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	if err := libmemif.Init("gopacket-example"); err != nil {
		return err
	}
	defer libmemif.Cleanup()
	var (
		wg   sync.WaitGroup
		stop chan struct{}
	)
	callbacks := &libmemif.MemifCallbacks{
		OnConnect: func(m *libmemif.Memif) error {
			d, err := m.GetDetails()
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "connected to %s: %d queues\n", d.RemoteInstanceName, min(len(d.RxQueues), len(d.TxQueues)))
			stop = make(chan struct{})
			// A handle reads and writes the queues of one number.
			for q := range min(len(d.RxQueues), len(d.TxQueues)) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					serve(m, uint8(q), cfg, stop, out)
				}()
			}
			return nil
		},
		OnDisconnect: func(m *libmemif.Memif) error {
			close(stop)
			wg.Wait()
			fmt.Fprintln(out, "disconnected")
			return nil
		},
	}
	m, err := libmemif.CreateInterface(&libmemif.MemifConfig{
		MemifMeta: libmemif.MemifMeta{
			IfName: "gopacket", ConnID: cfg.ConnID, SocketFilename: cfg.Socket, Secret: cfg.Secret,
			IsMaster: !cfg.Slave, Mode: libmemif.IfModeEthernet,
		},
		MemifShmSpecs: libmemif.MemifShmSpecs{NumRxQueues: cfg.Queues, NumTxQueues: cfg.Queues},
	}, callbacks)
	if err != nil {
		return fmt.Errorf("create interface: %w", err)
	}
	defer m.Close()
	<-ctx.Done()
	return nil
}

// responder decodes frames and builds replies; one per goroutine.
type responder struct {
	mac    net.HardwareAddr
	ip     net.IP
	eth    layers.Ethernet
	arp    layers.ARP
	ip4    layers.IPv4
	icmp   layers.ICMPv4
	pl     gopacket.Payload
	parser *gopacket.DecodingLayerParser
	types  []gopacket.LayerType
	buf    gopacket.SerializeBuffer
}

func newResponder(cfg config) *responder {
	r := &responder{mac: cfg.MAC, ip: cfg.IP, buf: gopacket.NewSerializeBuffer()}
	r.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &r.eth, &r.arp, &r.ip4, &r.icmp, &r.pl)
	r.parser.IgnoreUnsupported = true
	return r
}

var serializeOpts = gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}

// answer returns the reply to frame (valid until the next call) or nil.
func (r *responder) answer(frame []byte) []byte {
	if err := r.parser.DecodeLayers(frame, &r.types); err != nil {
		return nil // malformed: no reply
	}
	dst := r.eth.DstMAC
	if !bytesEqual(dst, r.mac) && !bytesEqual(dst, layers.EthernetBroadcast) {
		return nil
	}
	for _, t := range r.types {
		switch t {
		case layers.LayerTypeARP:
			a := &r.arp
			if a.Operation != layers.ARPRequest || a.AddrType != layers.LinkTypeEthernet || a.Protocol != layers.EthernetTypeIPv4 ||
				a.HwAddressSize != 6 || a.ProtAddressSize != 4 || !bytesEqual(a.DstProtAddress, r.ip) {
				return nil
			}
			return r.serialize(
				&layers.Ethernet{SrcMAC: r.mac, DstMAC: a.SourceHwAddress, EthernetType: layers.EthernetTypeARP},
				&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
					Operation: layers.ARPReply, SourceHwAddress: r.mac, SourceProtAddress: r.ip,
					DstHwAddress: a.SourceHwAddress, DstProtAddress: a.SourceProtAddress})
		case layers.LayerTypeICMPv4:
			ip, ic := r.ip4, &r.icmp
			if !ip.DstIP.Equal(r.ip) || ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 ||
				ic.TypeCode != layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0) ||
				sdk.Checksum(ip.Contents, 0) != 0 || sdk.Checksum(ic.Payload, sdk.Sum(ic.Contents, 0)) != 0 {
				return nil
			}
			// The request's header with the addresses swapped and a fresh
			// TTL; lengths and checksums are recomputed.
			ip.SrcIP, ip.DstIP, ip.TTL = r.ip, r.ip4.SrcIP, 64
			return r.serialize(
				&layers.Ethernet{SrcMAC: r.mac, DstMAC: r.eth.SrcMAC, EthernetType: layers.EthernetTypeIPv4},
				&ip,
				&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoReply, 0), Id: ic.Id, Seq: ic.Seq},
				gopacket.Payload(ic.Payload))
		}
	}
	return nil
}

func (r *responder) serialize(l ...gopacket.SerializableLayer) []byte {
	if err := gopacket.SerializeLayers(r.buf, serializeOpts, l...); err != nil {
		return nil
	}
	return r.buf.Bytes()
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// serve answers the requests of queue q through a packet handle.
func serve(m *libmemif.Memif, q uint8, cfg config, stop <-chan struct{}, out io.Writer) {
	interrupts, err := m.GetQueueInterruptChan(q)
	if err != nil {
		fmt.Fprintf(out, "queue %d: %v\n", q, err)
		return
	}
	h := m.NewPacketHandle(q, 32)
	defer h.Close()
	r := newResponder(cfg)
	for {
		select {
		case <-stop:
			return
		case <-interrupts:
		}
		// io.EOF: the queue is empty until the next interrupt.
		for {
			data, _, err := h.ReadPacketData()
			if err != nil {
				break
			}
			reply := r.answer(data)
			if reply == nil {
				continue
			}
			for tries := 0; ; tries++ {
				err := h.WritePacketData(reply)
				if err != io.EOF || tries == 100 {
					break
				}
				time.Sleep(50 * time.Microsecond) // ring full
			}
		}
	}
}
