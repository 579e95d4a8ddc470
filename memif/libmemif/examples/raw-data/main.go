// raw-data is a basic example showing how to create a memif interface,
// handle events through callbacks and perform Rx/Tx of raw data.
//
// Run two instances against each other:
//
//	$ raw-data             # master
//	$ raw-data -slave      # slave
//
// Every 3 seconds both sides send 3 packets of text through each queue
// and print what they receive. Stop an instance with an interrupt signal.
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
	Socket   string
	ConnID   uint32
	Slave    bool
	Secret   string
	Queues   uint8         // asked for; the master may grant fewer
	Interval time.Duration // between bursts
	Bursts   int           // bursts per queue per connection; 0 = no limit
}

func parseFlags(args []string, errOut io.Writer) (config, error) {
	fs := flag.NewFlagSet("raw-data", flag.ContinueOnError)
	fs.SetOutput(errOut)
	cfg := config{}
	fs.StringVar(&cfg.Socket, "socket", "/tmp/raw-data-example", "memif control socket")
	fs.BoolVar(&cfg.Slave, "slave", false, "connect as the slave instead of listening as the master")
	fs.StringVar(&cfg.Secret, "secret", "secret", "memif secret")
	fs.DurationVar(&cfg.Interval, "interval", 3*time.Second, "time between bursts")
	fs.IntVar(&cfg.Bursts, "bursts", 0, "bursts to send per queue (0: until stopped)")
	queues := fs.Uint("queues", 3, "queues each way (1..255)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if *queues < 1 || *queues > 255 {
		return cfg, fmt.Errorf("-queues %d is outside 1..255", *queues)
	}
	if cfg.Interval <= 0 {
		return cfg, fmt.Errorf("-interval %v is not positive", cfg.Interval)
	}
	cfg.Queues, cfg.ConnID = uint8(*queues), 1
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
		fmt.Fprintln(os.Stderr, "raw-data:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	app := "raw-data"
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
			fmt.Fprintf(out, "memif %s connected to %s: %d rx, %d tx queues\n", m.IfName, d.RemoteIfName, len(d.RxQueues), len(d.TxQueues))
			stop = make(chan struct{})
			// A goroutine per queue and direction: queues are the unit of
			// parallelism.
			for q := range d.RxQueues {
				wg.Add(1)
				go func() {
					defer wg.Done()
					readAndPrint(m, uint8(q), stop, out)
				}()
			}
			for q := range d.TxQueues {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sendBursts(m, uint8(q), cfg, stop, out)
				}()
			}
			return nil
		},
		OnDisconnect: func(m *libmemif.Memif) error {
			fmt.Fprintf(out, "memif %s disconnected\n", m.IfName)
			// The interrupt channels close only after this callback: stop
			// the goroutines explicitly.
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
		MemifShmSpecs: libmemif.MemifShmSpecs{NumRxQueues: cfg.Queues, NumTxQueues: cfg.Queues, BufferSize: 2048, Log2RingSize: 10},
	}, callbacks)
	if err != nil {
		return fmt.Errorf("create interface: %w", err)
	}
	defer m.Close()
	<-ctx.Done()
	return nil
}

// readAndPrint prints every packet received on queue q.
func readAndPrint(m *libmemif.Memif, q uint8, stop <-chan struct{}, out io.Writer) {
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
		// One interrupt for a whole burst: read until the queue is empty.
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
				fmt.Fprintf(out, "received queue=%d: %s\n", q, p)
			}
		}
	}
}

// sendBursts sends 3 packets into queue q every interval.
func sendBursts(m *libmemif.Memif, q uint8, cfg config, stop <-chan struct{}, out io.Writer) {
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for burst := 1; cfg.Bursts == 0 || burst <= cfg.Bursts; burst++ {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		pkts := []libmemif.RawPacketData{
			libmemif.RawPacketData(fmt.Sprintf("Packet #1 in burst number %d", burst)),
			libmemif.RawPacketData(fmt.Sprintf("Packet #2 in burst number %d", burst)),
			libmemif.RawPacketData(fmt.Sprintf("Packet #3 in burst number %d", burst)),
		}
		// A full ring takes fewer packets: send the rest next time round.
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
