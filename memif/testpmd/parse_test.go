package testpmd

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func readTestdata(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// The testdata files are answers captured from dpdk-testpmd 22.11.11 in a
// two-port memif loopback with two queues.

func TestParsePortStats(t *testing.T) {
	got, err := ParsePortStats(readTestdata(t, "port_stats.txt"), 1)
	if err != nil {
		t.Fatal(err)
	}
	want := PortStats{RxPackets: 19429088, RxBytes: 1243461632, TxPackets: 19429152, TxBytes: 1243465728}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestParsePortStatsRejects(t *testing.T) {
	good := readTestdata(t, "port_stats.txt")
	tests := []struct {
		name, text string
		port       int
		wantErr    string
	}{
		{"other port", good, 0, `no "NIC statistics for port 0" block`},
		{"port 1 is not port 10", good, 10, `no "NIC statistics for port 10" block`},
		{"missing key", strings.Replace(good, "RX-nombuf:", "RX-nombuf", 1), 1, "no RX-nombuf"},
		{"unterminated block", good[:strings.LastIndex(good, "####")-80], 1, "no \"NIC statistics"},
		{"counter overflow", strings.Replace(good, "RX-missed: 0", "RX-missed: 99999999999999999999999", 1), 1, "overflows a counter"},
		{"duplicate key", strings.Replace(good, "RX-errors: 0", "RX-errors: 0 RX-bytes: 5", 1), 1, "RX-bytes appears twice"},
		{"empty", "", 0, "no \"NIC statistics"},
		{"invalid port answer", "Invalid port 9\nThe valid ports array is [ 0 1 ]\n", 9, "no \"NIC statistics"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePortStats(tt.text, tt.port)
			if !errors.Is(err, ErrParse) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want ErrParse mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseForwardStats(t *testing.T) {
	got, err := ParseForwardStats(readTestdata(t, "stop.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]ForwardStats{
		0: {RxPackets: 19429120, TxPackets: 19429184},
		1: {RxPackets: 19429120, TxPackets: 19429184},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestParseForwardStatsRejects(t *testing.T) {
	good := readTestdata(t, "stop.txt")
	tests := []struct{ name, text, wantErr string }{
		{"missing key", strings.Replace(good, "TX-dropped:", "TX-dr0pped:", -1), "no TX-dropped"},
		{"no port number", "Forward statistics for port X\n", "without a port number"},
		{"unterminated", "  ---- Forward statistics for port 0  ----\n  RX-packets: 1\n", "not terminated"},
		{"duplicate port", good + good, "appear twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseForwardStats(tt.text)
			if !errors.Is(err, ErrParse) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want ErrParse mentioning %q", err, tt.wantErr)
			}
		})
	}
	if got, err := ParseForwardStats("Packet forwarding not started\n"); err != nil || len(got) != 0 {
		t.Errorf("not started: %v, %v; want empty, nil", got, err)
	}
}

func TestParseXStats(t *testing.T) {
	got, err := ParseXStats(readTestdata(t, "xstats.txt"), 1)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]uint64{
		"rx_good_packets": 19429088, "rx_q0_packets": 9714560, "rx_q1_packets": 9714528,
		"tx_q1_bytes": 621731840, "rx_mbuf_allocation_errors": 0,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %d (present %v), want %d", name, v, ok, want)
		}
	}
	if len(got) != 18 {
		t.Errorf("%d xstats, want 18: %v", len(got), got)
	}
}

func TestParseXStatsRejects(t *testing.T) {
	good := readTestdata(t, "xstats.txt")
	tests := []struct {
		name, text string
		port       int
		wantErr    string
	}{
		{"other port", good, 0, "no \"NIC extended statistics for port 0\""},
		{"port 1 is not port 10", strings.Replace(good, "port 1 ", "port 10 ", 1), 1, "no \"NIC extended statistics for port 1\""},
		{"bad value", strings.Replace(good, "rx_errors: 0", "rx_errors: -1", 1), 1, "rx_errors: value \"-1\""},
		{"no counters", "###### NIC extended statistics for port 1 \ntestpmd> ", 1, "no extended statistics"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseXStats(tt.text, tt.port)
			if !errors.Is(err, ErrParse) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want ErrParse mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseLinkUpAndPortCount(t *testing.T) {
	text := readTestdata(t, "summary_info.txt")
	if up, err := ParseLinkUp(text, 0); err != nil || up {
		t.Errorf("ParseLinkUp = %v, %v; want down", up, err)
	}
	if up, err := ParseLinkUp(strings.Replace(text, "Link status: down", "Link status: up", 1), 0); err != nil || !up {
		t.Errorf("ParseLinkUp = %v, %v; want up", up, err)
	}
	if n, err := ParsePortCount(text); err != nil || n != 1 {
		t.Errorf("ParsePortCount = %d, %v; want 1", n, err)
	}
	for name, f := range map[string]func() error{
		"link of another port": func() error { _, err := ParseLinkUp(text, 1); return err },
		"link status unknown": func() error {
			_, err := ParseLinkUp(strings.Replace(text, "Link status: down", "Link status: sideways", 1), 0)
			return err
		},
		"link status missing": func() error {
			_, err := ParseLinkUp(strings.Replace(text, "Link status:", "Link state:", 1), 0)
			return err
		},
		"port count missing":    func() error { _, err := ParsePortCount("Command not found\n"); return err },
		"port count not number": func() error { _, err := ParsePortCount("Number of available ports: many\n"); return err },
	} {
		if err := f(); !errors.Is(err, ErrParse) {
			t.Errorf("%s: err = %v, want ErrParse", name, err)
		}
	}
}

// The parsers read another program's output: whatever it prints, they
// return an error or values, never panic, and what they return is
// consistent with the text.

func FuzzParsePortStats(f *testing.F) {
	f.Add(readTestdata(f, "port_stats.txt"), 1)
	f.Add("NIC statistics for port 0 \nRX-packets: 1 RX-packets: 2\n####################\n", 0)
	f.Fuzz(func(t *testing.T, text string, port int) {
		s, err := ParsePortStats(text, port)
		if err == nil && !strings.Contains(text, "RX-packets:") {
			t.Fatalf("parsed %+v from text without RX-packets", s)
		}
	})
}

func FuzzParseForwardStats(f *testing.F) {
	f.Add(readTestdata(f, "stop.txt"))
	f.Add("Forward statistics for port 99999999999999999999\n")
	f.Fuzz(func(t *testing.T, text string) {
		m, err := ParseForwardStats(text)
		if err == nil && len(m) > strings.Count(text, "Forward statistics for port ") {
			t.Fatalf("%d ports from %d headers", len(m), strings.Count(text, "Forward statistics for port "))
		}
	})
}

func FuzzParseXStats(f *testing.F) {
	f.Add(readTestdata(f, "xstats.txt"), 1)
	f.Fuzz(func(t *testing.T, text string, port int) {
		m, err := ParseXStats(text, port)
		if err == nil && len(m) == 0 {
			t.Fatal("success without counters")
		}
	})
}

func FuzzParseLinkUp(f *testing.F) {
	f.Add(readTestdata(f, "summary_info.txt"), 0)
	f.Fuzz(func(t *testing.T, text string, port int) {
		ParseLinkUp(text, port)
		ParsePortCount(text)
	})
}
