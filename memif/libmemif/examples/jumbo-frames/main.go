// jumbo-frames shows how to send larger and larger packets (jumbo frames)
// that span several memif buffers: TxBurst chains the buffers and RxBurst
// returns each chain as one packet.
//
// Run two instances against each other:
//
//	$ jumbo-frames             # master
//	$ jumbo-frames -slave      # slave
//
// Every interval each side sends 3 packets through each queue, of
// step×n, 2×step×n and 4×step×n bytes in burst n (at most -max bytes),
// filled with a pattern the receiver checks. Both print what they receive.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/memif-wasm/memif-wasm/memif/libmemif"
)

type config struct {
	Socket     string
	ConnID     uint32
	Slave      bool
	Secret     string
	Queues     uint8
	BufferSize uint16 // memif buffer size; packets above it are chained
	Step, Max  int    // packet sizes: see the package comment
	Interval   time.Duration
	Bursts     int // bursts per queue per connection; 0 = no limit
}

func parseFlags(args []string, errOut io.Writer) (config, error) {
	fs := flag.NewFlagSet("jumbo-frames", flag.ContinueOnError)
	fs.SetOutput(errOut)
	cfg := config{ConnID: 1}
	fs.StringVar(&cfg.Socket, "socket", "/tmp/jumbo-frames-example", "memif control socket")
	fs.BoolVar(&cfg.Slave, "slave", false, "connect as the slave instead of listening as the master")
	fs.StringVar(&cfg.Secret, "secret", "secret", "memif secret")
	fs.IntVar(&cfg.Step, "step", 128, "size step in bytes")
	fs.IntVar(&cfg.Max, "max", 9000, "largest packet in bytes (at most 65535)")
	fs.DurationVar(&cfg.Interval, "interval", 3*time.Second, "time between bursts")
	fs.IntVar(&cfg.Bursts, "bursts", 0, "bursts to send per queue (0: until stopped)")
	queues := fs.Uint("queues", 3, "queues each way (1..255)")
	bufSize := fs.Uint("buffer-size", 2048, "memif buffer size (1..65535)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	switch {
	case *queues < 1 || *queues > 255:
		return cfg, fmt.Errorf("-queues %d is outside 1..255", *queues)
	case *bufSize < 1 || *bufSize > 65535:
		return cfg, fmt.Errorf("-buffer-size %d is outside 1..65535", *bufSize)
	case cfg.Step < 1 || cfg.Max < cfg.Step || cfg.Max > 65535:
		return cfg, fmt.Errorf("-step %d and -max %d need 1 <= step <= max <= 65535", cfg.Step, cfg.Max)
	case cfg.Interval <= 0:
		return cfg, fmt.Errorf("-interval %v is not positive", cfg.Interval)
	}
	cfg.Queues, cfg.BufferSize = uint8(*queues), uint16(*bufSize)
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
		fmt.Fprintln(os.Stderr, "jumbo-frames:", err)
		os.Exit(1)
	}
}

// fill writes the pattern a packet of len(p) bytes carries; check tests it.
func fill(p []byte) {
	for i := range p {
		p[i] = byte(i*7) ^ byte(len(p))
	}
}

func check(p []byte) bool {
	for i := range p {
		if p[i] != byte(i*7)^byte(len(p)) {
			return false
		}
	}
	return true
}

// sizes returns the packet sizes of burst n (from 1).
func sizes(cfg config, n int) [3]int {
	return [3]int{min(cfg.Step*n, cfg.Max), min(2*cfg.Step*n, cfg.Max), min(4*cfg.Step*n, cfg.Max)}
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	app := "jumbo-frames"
	if cfg.Slave {
		app += "-slave"
	}
	if err := libmemif.Init(app); err != nil {
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
			fmt.Fprintf(out, "memif %s connected: %d rx, %d tx queues\n", m.IfName, len(d.RxQueues), len(d.TxQueues))
			stop = make(chan struct{})
			for q := range d.RxQueues {
				wg.Add(1)
				go func() {
					defer wg.Done()
					receive(m, uint8(q), stop, out)
				}()
			}
			for q := range d.TxQueues {
				wg.Add(1)
				go func() {
					defer wg.Done()
					send(m, uint8(q), cfg, stop, out)
				}()
			}
			return nil
		},
		OnDisconnect: func(m *libmemif.Memif) error {
			fmt.Fprintf(out, "memif %s disconnected\n", m.IfName)
			close(stop)
			wg.Wait()
			return nil
		},
	}
	m, err := libmemif.CreateInterface(&libmemif.MemifConfig{
		MemifMeta: libmemif.MemifMeta{
			IfName: "memif1", ConnID: cfg.ConnID, SocketFilename: cfg.Socket, Secret: cfg.Secret,
			IsMaster: !cfg.Slave, Mode: libmemif.IfModeEthernet,
		},
		MemifShmSpecs: libmemif.MemifShmSpecs{NumRxQueues: cfg.Queues, NumTxQueues: cfg.Queues, BufferSize: cfg.BufferSize},
	}, callbacks)
	if err != nil {
		return fmt.Errorf("create interface: %w", err)
	}
	defer m.Close()
	<-ctx.Done()
	return nil
}

// receive prints the length of every packet received on queue q and
// whether its content is intact.
func receive(m *libmemif.Memif, q uint8, stop <-chan struct{}, out io.Writer) {
	interrupts, err := m.GetQueueInterruptChan(q)
	if err != nil {
		fmt.Fprintf(out, "queue %d: %v\n", q, err)
		return
	}
	for {
		select {
		case <-stop:
			return
		case <-interrupts:
		}
		for {
			pkts, err := m.RxBurst(q, 10)
			if err != nil {
				fmt.Fprintf(out, "queue %d: rx burst: %v\n", q, err)
				break
			}
			if len(pkts) == 0 {
				break
			}
			for _, p := range pkts {
				state := "intact"
				if !check(p) {
					state = "CORRUPT"
				}
				fmt.Fprintf(out, "received queue=%d: %d bytes %s\n", q, len(p), state)
			}
		}
	}
}

// send sends a burst of 3 growing packets into queue q every interval.
func send(m *libmemif.Memif, q uint8, cfg config, stop <-chan struct{}, out io.Writer) {
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for burst := 1; cfg.Bursts == 0 || burst <= cfg.Bursts; burst++ {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		var pkts []libmemif.RawPacketData
		for _, n := range sizes(cfg, burst) {
			p := make([]byte, n)
			fill(p)
			pkts = append(pkts, p)
		}
		for sent := 0; sent < len(pkts); {
			n, err := m.TxBurst(q, pkts[sent:])
			if err != nil {
				fmt.Fprintf(out, "queue %d: tx burst: %v\n", q, err)
				return
			}
			sent += int(n)
			if n == 0 {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
			}
		}
	}
}
