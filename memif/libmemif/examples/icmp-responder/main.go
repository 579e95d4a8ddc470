// icmp-responder answers ARP requests and ICMPv4 echo requests (ping)
// received on a memif interface, on every queue the connection has.
//
// Connect it to VPP:
//
//	vpp# create interface memif id 1 socket-id 0 slave
//	vpp# set int state memif0/1 up
//	vpp# set int ip address memif0/1 192.168.1.2/24
//	$ icmp-responder -socket /run/vpp/memif.sock -id 1 -ip 192.168.1.1
//	vpp# ping 192.168.1.1
//
// It is the master by default; -slave makes it connect to a master. Stop
// it with an interrupt signal.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memif-wasm/memif-wasm/memif/libmemif"
	"github.com/memif-wasm/memif-wasm/memif/libmemif/examples/internal/responder"
)

// config is what the flags set.
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
	fs := flag.NewFlagSet("icmp-responder", flag.ContinueOnError)
	fs.SetOutput(errOut)
	socket := fs.String("socket", "/run/vpp/memif.sock", "memif control socket (\"@name\" for an abstract socket)")
	id := fs.Uint("id", 1, "memif interface id")
	slave := fs.Bool("slave", false, "connect as the slave instead of listening as the master")
	secret := fs.String("secret", "", "memif secret")
	mac := fs.String("mac", "02:fe:00:00:00:01", "Ethernet address to answer for")
	ip := fs.String("ip", "192.168.1.1", "IPv4 address to answer for")
	queues := fs.Uint("queues", 1, "queues each way (1..255)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	cfg := config{Socket: *socket, Slave: *slave, Secret: *secret}
	if *id > 1<<32-1 {
		return cfg, fmt.Errorf("-id %d does not fit 32 bits", *id)
	}
	cfg.ConnID = uint32(*id)
	if *queues < 1 || *queues > 255 {
		return cfg, fmt.Errorf("-queues %d is outside 1..255", *queues)
	}
	cfg.Queues = uint8(*queues)
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
		fmt.Fprintln(os.Stderr, "icmp-responder:", err)
		os.Exit(1)
	}
}

// run answers requests until ctx is done.
func run(ctx context.Context, cfg config, out io.Writer) error {
	if err := libmemif.Init("icmp-responder"); err != nil {
		return err
	}
	defer libmemif.Cleanup()

	r := &responder.Responder{MAC: [6]byte(cfg.MAC), IP: [4]byte(cfg.IP)}
	var (
		wg      sync.WaitGroup
		stop    chan struct{}
		replies atomic.Uint64
	)
	callbacks := &libmemif.MemifCallbacks{
		OnConnect: func(m *libmemif.Memif) error {
			d, err := m.GetDetails()
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "connected to %s (%s): %d rx, %d tx queues\n",
				d.RemoteIfName, d.RemoteInstanceName, len(d.RxQueues), len(d.TxQueues))
			stop = make(chan struct{})
			// One goroutine per queue: a memif queue is the unit of
			// parallelism. The master may grant fewer queues than asked.
			for q := range d.RxQueues {
				wg.Add(1)
				go func() {
					defer wg.Done()
					serve(m, uint8(q), len(d.TxQueues), r, stop, &replies)
				}()
			}
			return nil
		},
		OnDisconnect: func(m *libmemif.Memif) error {
			close(stop)
			wg.Wait()
			fmt.Fprintf(out, "disconnected after %d replies\n", replies.Load())
			return nil
		},
	}
	m, err := libmemif.CreateInterface(&libmemif.MemifConfig{
		MemifMeta: libmemif.MemifMeta{
			IfName: "icmp-responder", ConnID: cfg.ConnID, SocketFilename: cfg.Socket,
			Secret: cfg.Secret, IsMaster: !cfg.Slave, Mode: libmemif.IfModeEthernet,
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

// serve answers the requests of one rx queue on the tx queue of the same
// number (queue 0 if the connection has fewer tx queues).
func serve(m *libmemif.Memif, q uint8, txQueues int, r *responder.Responder, stop <-chan struct{}, replies *atomic.Uint64) {
	interrupts, err := m.GetQueueInterruptChan(q)
	if err != nil {
		return
	}
	txq := q
	if int(q) >= txQueues {
		txq = 0
	}
	// Frames shorter than the 60-byte minimum get their reply here.
	var small [32][responder.MinReply]byte
	for {
		select {
		case <-stop:
			return
		case <-interrupts:
		}
		// One signal stands for a whole burst: read until the queue is
		// empty so nothing is left behind when the signal is cleared.
		for {
			pkts, err := m.RxBurst(q, 32)
			if err != nil || len(pkts) == 0 {
				break
			}
			out := pkts[:0]
			for i, p := range pkts {
				dst := []byte(p)
				if len(p) < responder.MinReply {
					dst = small[i][:]
				}
				if n := r.Reply(dst, p); n > 0 {
					out = append(out, dst[:n])
				}
			}
			if !send(m, txq, out, stop) {
				return
			}
			replies.Add(uint64(len(out)))
		}
	}
}

// send transmits every packet, retrying while the ring is full. It gives up
// (reporting false) if the link goes down or stop is closed.
func send(m *libmemif.Memif, q uint8, pkts []libmemif.RawPacketData, stop <-chan struct{}) bool {
	for len(pkts) > 0 {
		n, err := m.TxBurst(q, pkts)
		if err != nil {
			return !errors.Is(err, libmemif.ErrDisconnected) && err != libmemif.ErrNoConn
		}
		pkts = pkts[n:]
		if n == 0 {
			select {
			case <-stop:
				return false
			case <-time.After(50 * time.Microsecond):
			}
		}
	}
	return true
}
