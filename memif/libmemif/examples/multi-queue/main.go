// multi-queue answers ARP and ICMPv4 echo requests on two queues, each
// served by its own goroutine: queue 0 in polling mode (the peer never
// signals; the goroutine polls RxBurst), queue 1 in interrupt mode (the
// goroutine sleeps until the queue's interrupt channel fires). It is C
// libmemif's multi-thread ICMP responder, with goroutines for threads;
// connection handling stays with the library's control goroutine.
//
//	vpp# create interface memif id 1 socket-id 0 slave rx-queues 2 tx-queues 2
//	vpp# set int state memif0/1 up
//	vpp# set int ip address memif0/1 192.168.1.2/24
//	$ multi-queue
//
// It is the master by default; -slave makes it connect to a master. VPP
// needs worker threads to serve more than one queue.
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
	"sync/atomic"
	"time"

	"github.com/memif-wasm/memif-wasm/memif/libmemif"
	"github.com/memif-wasm/memif-wasm/memif/libmemif/examples/internal/responder"
)

const (
	pollingQueue   = 0
	interruptQueue = 1
)

type config struct {
	Socket string
	ConnID uint32
	Slave  bool
	Secret string
	MAC    net.HardwareAddr
	IP     net.IP
	// PollIdle is how long the polling goroutine sleeps after finding the
	// queue empty 64 times in a row, so an idle poller leaves the CPU to
	// others; 0 spins.
	PollIdle time.Duration
}

func parseFlags(args []string, errOut io.Writer) (config, error) {
	fs := flag.NewFlagSet("multi-queue", flag.ContinueOnError)
	fs.SetOutput(errOut)
	cfg := config{}
	fs.StringVar(&cfg.Socket, "socket", "/run/vpp/memif.sock", "memif control socket")
	id := fs.Uint("id", 1, "memif interface id")
	fs.BoolVar(&cfg.Slave, "slave", false, "connect as the slave instead of listening as the master")
	fs.StringVar(&cfg.Secret, "secret", "", "memif secret")
	mac := fs.String("mac", "02:fe:00:00:00:01", "Ethernet address to answer for")
	ip := fs.String("ip", "192.168.1.1", "IPv4 address to answer for")
	fs.DurationVar(&cfg.PollIdle, "poll-idle", 100*time.Microsecond, "sleep of the idle polling goroutine (0: spin)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if *id > 1<<32-1 {
		return cfg, fmt.Errorf("-id %d does not fit 32 bits", *id)
	}
	if cfg.PollIdle < 0 {
		return cfg, fmt.Errorf("-poll-idle %v is negative", cfg.PollIdle)
	}
	cfg.ConnID = uint32(*id)
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
		fmt.Fprintln(os.Stderr, "multi-queue:", err)
		os.Exit(1)
	}
}

// worker serves one queue; its counter is read when the link goes down.
type worker struct {
	m       *libmemif.Memif
	q       uint8
	r       *responder.Responder
	stop    <-chan struct{}
	replies atomic.Uint64
	small   [32][responder.MinReply]byte // replies to frames under 60 bytes
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	if err := libmemif.Init("multi-queue"); err != nil {
		return err
	}
	defer libmemif.Cleanup()
	r := &responder.Responder{MAC: [6]byte(cfg.MAC), IP: [4]byte(cfg.IP)}
	var (
		wg      sync.WaitGroup
		stop    chan struct{}
		workers []*worker
	)
	callbacks := &libmemif.MemifCallbacks{
		OnConnect: func(m *libmemif.Memif) error {
			d, err := m.GetDetails()
			if err != nil {
				return err
			}
			if len(d.RxQueues) < 2 || len(d.TxQueues) < 2 {
				fmt.Fprintf(out, "the peer granted %d rx and %d tx queues, 2 each are needed\n", len(d.RxQueues), len(d.TxQueues))
				return nil
			}
			if err := m.SetRxMode(pollingQueue, libmemif.RxModePolling); err != nil {
				return err
			}
			fmt.Fprintln(out, "connected: queue 0 polling, queue 1 interrupt")
			stop = make(chan struct{})
			workers = []*worker{{m: m, q: pollingQueue, r: r, stop: stop}, {m: m, q: interruptQueue, r: r, stop: stop}}
			wg.Add(2)
			go func() { defer wg.Done(); workers[0].poll(cfg.PollIdle) }()
			go func() { defer wg.Done(); workers[1].interrupts() }()
			return nil
		},
		OnDisconnect: func(m *libmemif.Memif) error {
			if stop == nil {
				return nil
			}
			close(stop)
			wg.Wait()
			fmt.Fprintf(out, "disconnected: queue 0 sent %d replies, queue 1 sent %d\n", workers[0].replies.Load(), workers[1].replies.Load())
			stop = nil
			return nil
		},
	}
	m, err := libmemif.CreateInterface(&libmemif.MemifConfig{
		MemifMeta: libmemif.MemifMeta{
			IfName: "multi-queue", ConnID: cfg.ConnID, SocketFilename: cfg.Socket, Secret: cfg.Secret,
			IsMaster: !cfg.Slave, Mode: libmemif.IfModeEthernet,
		},
		MemifShmSpecs: libmemif.MemifShmSpecs{NumRxQueues: 2, NumTxQueues: 2},
	}, callbacks)
	if err != nil {
		return fmt.Errorf("create interface: %w", err)
	}
	defer m.Close()
	<-ctx.Done()
	return nil
}

// poll serves its queue by calling RxBurst in a loop.
func (w *worker) poll(idle time.Duration) {
	empty := 0
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		if w.burst() > 0 {
			empty = 0
			continue
		}
		if empty++; empty >= 64 && idle > 0 {
			time.Sleep(idle)
		}
	}
}

// interrupts serves its queue when its interrupt channel fires.
func (w *worker) interrupts() {
	ch, err := w.m.GetQueueInterruptChan(w.q)
	if err != nil {
		return
	}
	for {
		select {
		case <-w.stop:
			return
		case <-ch:
		}
		for w.burst() > 0 {
		}
	}
}

// burst answers one burst of requests and returns how many packets it read.
func (w *worker) burst() int {
	pkts, err := w.m.RxBurst(w.q, 32)
	if err != nil || len(pkts) == 0 {
		return 0
	}
	out := pkts[:0]
	for i, p := range pkts {
		dst := []byte(p)
		if len(p) < responder.MinReply {
			dst = w.small[i][:]
		}
		if n := w.r.Reply(dst, p); n > 0 {
			out = append(out, dst[:n])
		}
	}
	for sent, tries := 0, 0; sent < len(out) && tries < 1000; tries++ {
		n, err := w.m.TxBurst(w.q, out[sent:])
		if err != nil {
			break
		}
		sent += int(n)
		w.replies.Add(uint64(n))
		if n == 0 {
			time.Sleep(50 * time.Microsecond) // ring full
		}
	}
	return len(pkts)
}
