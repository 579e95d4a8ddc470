package testpmd

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as a fake testpmd: with TESTPMD_FAKE set it
// speaks testpmd's interactive protocol on stdin/stdout instead of running
// tests. This exercises Process (prompts, timeouts, crashes, kills) on
// machines without DPDK.
func TestMain(m *testing.M) {
	if mode := os.Getenv("TESTPMD_FAKE"); mode != "" {
		os.Exit(fakeTestpmd(mode))
	}
	os.Exit(m.Run())
}

// Fake modes.
const (
	fakeOK        = "ok"         // behaves
	fakeNoPrompt  = "no-prompt"  // never shows a prompt
	fakeExit      = "exit"       // fails at EAL init like a too-small -m
	fakeNoPorts   = "no-ports"   // starts with 0 ports, like a vdev probe failure
	fakeCrashQuit = "crash-quit" // exits 139 on quit
	fakeHangQuit  = "hang-quit"  // ignores quit and stdin EOF
)

func useFake(t *testing.T, mode string) *Config {
	t.Setenv("TESTPMD_FAKE", mode)
	// A -race child otherwise sleeps 1s at exit waiting for late reports.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &Config{
		Ports:   []Port{{Role: RoleServer, Socket: t.TempDir() + "/memif.sock"}},
		Binary:  exe,
		Timeout: 10 * time.Second, // a loaded machine can be slow to start a -race binary
	}
}

func fakeTestpmd(mode string) int {
	out := os.Stdout
	fmt.Fprintln(out, "EAL: Detected CPU lcores: 2")
	fmt.Fprintln(out, "fake testpmd in mode", mode)
	switch mode {
	case fakeNoPrompt:
		time.Sleep(time.Hour)
		return 0
	case fakeExit:
		fmt.Fprintln(out, "EAL: Error - exiting with code: 1\n  Cause: Creation of mbuf pool for socket 0 failed: Cannot allocate memory")
		return 1
	}
	ports := 1
	if mode == fakeNoPorts {
		ports = 0
	}
	infoCalls, forwarding := 0, false
	in := bufio.NewScanner(os.Stdin)
	for {
		fmt.Fprint(out, prompt)
		if !in.Scan() {
			if mode == fakeHangQuit {
				time.Sleep(time.Hour)
			}
			return 0
		}
		cmd := strings.TrimSpace(in.Text())
		fmt.Fprintln(out, cmd) // cmdline echoes what it reads
		switch cmd {
		case "show port summary all":
			fmt.Fprintf(out, "Number of available ports: %d\nPort MAC Address       Name         Driver         Status   Link\n", ports)
		case "show port info 0":
			infoCalls++
			status := "down"
			if infoCalls >= 3 {
				status = "up"
			}
			fmt.Fprintf(out, "\n********************* Infos for port 0  *********************\nMAC address: 02:00:00:00:00:10\nLink status: %s\nLink speed: 100 Gbps\n", status)
		case "show port stats 0":
			fmt.Fprint(out, "\n  ######################## NIC statistics for port 0  ########################\n"+
				"  RX-packets: 100        RX-missed: 0          RX-bytes:  6400\n  RX-errors: 0\n  RX-nombuf:  0         \n"+
				"  TX-packets: 99         TX-errors: 0          TX-bytes:  6336\n\n  Throughput (since last show)\n"+
				"  Rx-pps:            0          Rx-bps:            0\n  Tx-pps:            0          Tx-bps:            0\n"+
				"  ############################################################################\n")
		case "show port xstats 0":
			fmt.Fprint(out, "###### NIC extended statistics for port 0 \nrx_good_packets: 100\nrx_q0_packets: 100\ntx_q0_packets: 99\n")
		case "start", "start tx_first":
			forwarding = true
			// Asynchronous output from another thread may land between
			// answers; the parsers must not care.
			fmt.Fprint(out, "\nPort 0: link state change event\n")
			fmt.Fprint(out, "io packet forwarding - ports=1 - cores=1 - streams=1 - NUMA support enabled, MP allocation mode: native\n")
		case "stop":
			if !forwarding {
				fmt.Fprintln(out, "Packet forwarding not started")
				break
			}
			forwarding = false
			fmt.Fprint(out, "Telling cores to stop...\nWaiting for lcores to finish...\n\n"+
				"  ---------------------- Forward statistics for port 0  ----------------------\n"+
				"  RX-packets: 100            RX-dropped: 0             RX-total: 100\n"+
				"  TX-packets: 99             TX-dropped: 1             TX-total: 100\n"+
				"  ----------------------------------------------------------------------------\n\nDone.\n")
		case "fake-slow":
			time.Sleep(300 * time.Millisecond)
			fmt.Fprintln(out, "slow done")
		case "quit":
			switch mode {
			case fakeCrashQuit:
				fmt.Fprintln(out, "memif_msg_receive(): Invalid message size = 0")
				return 139
			case fakeHangQuit:
				time.Sleep(time.Hour)
			}
			fmt.Fprintln(out, "\nBye...")
			return 0
		default:
			fmt.Fprintln(out, "Command not found")
		}
	}
}
