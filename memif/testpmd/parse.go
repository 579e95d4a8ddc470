package testpmd

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// PortStats are a port's NIC counters as "show port stats N" prints them.
// The memif PMD counts a packet on TX only once it is in the shared ring,
// and resets all of them when its peer disconnects.
type PortStats struct {
	RxPackets, RxMissed, RxBytes, RxErrors, RxNoMbuf uint64
	TxPackets, TxErrors, TxBytes                     uint64
}

// ForwardStats are one port's counters of the forwarding run that "stop"
// ended. TxDropped counts packets the forwarding engine could not put into
// the port's TX queue (for memif: the ring was full) and freed.
type ForwardStats struct {
	RxPackets, RxDropped, TxPackets, TxDropped uint64
}

// ErrParse is wrapped by every error about output that is not what testpmd
// 22.11 prints.
var ErrParse = errors.New("unexpected testpmd output")

func parseError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrParse}, args...)...)
}

// ParsePortStats extracts port's counters from the answer to
// "show port stats <port>" (or "show port stats all").
func ParsePortStats(text string, port int) (PortStats, error) {
	header := fmt.Sprintf("NIC statistics for port %d ", port)
	block, ok := blockAfter(text, header, isRule('#'))
	if !ok {
		return PortStats{}, parseError("no %q block", strings.TrimSpace(header))
	}
	fields, err := parseFields(block)
	if err != nil {
		return PortStats{}, fmt.Errorf("port %d stats: %w", port, err)
	}
	var s PortStats
	for _, f := range []struct {
		key string
		dst *uint64
	}{
		{"RX-packets", &s.RxPackets}, {"RX-missed", &s.RxMissed}, {"RX-bytes", &s.RxBytes},
		{"RX-errors", &s.RxErrors}, {"RX-nombuf", &s.RxNoMbuf},
		{"TX-packets", &s.TxPackets}, {"TX-errors", &s.TxErrors}, {"TX-bytes", &s.TxBytes},
	} {
		v, ok := fields[f.key]
		if !ok {
			return PortStats{}, parseError("port %d stats: no %s", port, f.key)
		}
		*f.dst = v
	}
	return s, nil
}

// ParseForwardStats extracts the per-port counters from the answer to
// "stop". Ports that took no part in forwarding are absent.
func ParseForwardStats(text string) (map[int]ForwardStats, error) {
	const header = "Forward statistics for port "
	out := make(map[int]ForwardStats)
	rest := text
	for {
		i := strings.Index(rest, header)
		if i < 0 {
			break
		}
		rest = rest[i+len(header):]
		numEnd := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if numEnd <= 0 {
			return nil, parseError("forward statistics header without a port number")
		}
		port, err := strconv.Atoi(rest[:numEnd])
		if err != nil || port > 1<<16 {
			return nil, parseError("forward statistics for port %q", rest[:numEnd])
		}
		block, ok := blockAfter(rest, "", isRule('-'))
		if !ok {
			return nil, parseError("forward statistics for port %d are not terminated", port)
		}
		fields, err := parseFields(block)
		if err != nil {
			return nil, fmt.Errorf("forward statistics for port %d: %w", port, err)
		}
		var s ForwardStats
		for _, f := range []struct {
			key string
			dst *uint64
		}{
			{"RX-packets", &s.RxPackets}, {"RX-dropped", &s.RxDropped},
			{"TX-packets", &s.TxPackets}, {"TX-dropped", &s.TxDropped},
		} {
			v, ok := fields[f.key]
			if !ok {
				return nil, parseError("forward statistics for port %d: no %s", port, f.key)
			}
			*f.dst = v
		}
		if _, dup := out[port]; dup {
			return nil, parseError("forward statistics for port %d appear twice", port)
		}
		out[port] = s
	}
	return out, nil
}

// ParseXStats extracts the extended counters (rx_q0_packets, tx_good_bytes,
// ...) from the answer to "show port xstats <port>".
func ParseXStats(text string, port int) (map[string]uint64, error) {
	header := fmt.Sprintf("NIC extended statistics for port %d", port)
	i := strings.Index(text, header)
	if i < 0 {
		return nil, parseError("no %q block", header)
	}
	lines := strings.Split(text[i+len(header):], "\n")
	if len(lines) > 0 && strings.TrimSpace(lines[0]) != "" {
		// Header of another port whose number starts with ours (port 1 vs 10).
		return nil, parseError("no %q block", header)
	}
	out := make(map[string]uint64)
	for _, line := range lines[1:] {
		name, value, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if !ok || !isXStatName(name) {
			break
		}
		v, err := strconv.ParseUint(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return nil, parseError("xstat %s: value %q is not a counter", name, value)
		}
		out[name] = v
	}
	if len(out) == 0 {
		return nil, parseError("port %d has no extended statistics", port)
	}
	return out, nil
}

// ParseLinkUp reports whether the answer to "show port info <port>" says
// the link is up.
func ParseLinkUp(text string, port int) (bool, error) {
	header := fmt.Sprintf("Infos for port %d ", port)
	i := strings.Index(text, header)
	if i < 0 {
		return false, parseError("no %q block", strings.TrimSpace(header))
	}
	const key = "Link status: "
	j := strings.Index(text[i:], key)
	if j < 0 {
		return false, parseError("port %d info has no link status", port)
	}
	status, _, _ := strings.Cut(text[i+j+len(key):], "\n")
	switch strings.TrimSpace(status) {
	case "up":
		return true, nil
	case "down":
		return false, nil
	}
	return false, parseError("port %d link status %q is neither up nor down", port, strings.TrimSpace(status))
}

// ParsePortCount extracts the port count from the answer to
// "show port summary all".
func ParsePortCount(text string) (int, error) {
	const key = "Number of available ports: "
	i := strings.Index(text, key)
	if i < 0 {
		return 0, parseError("no %q line", strings.TrimSpace(key))
	}
	num, _, _ := strings.Cut(text[i+len(key):], "\n")
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n < 0 {
		return 0, parseError("port count %q is not a number", strings.TrimSpace(num))
	}
	return n, nil
}

// blockAfter returns the lines after the line that contains header, up to
// the first line for which end is true.
func blockAfter(text, header string, end func(string) bool) (string, bool) {
	i := strings.Index(text, header)
	if i < 0 {
		return "", false
	}
	nl := strings.IndexByte(text[i:], '\n')
	if nl < 0 {
		return "", false
	}
	body := text[i+nl+1:]
	for off := 0; off < len(body); {
		line, _, _ := strings.Cut(body[off:], "\n")
		if end(line) {
			return body[:off], true
		}
		off += len(line) + 1
	}
	return "", false
}

// isRule returns a predicate for a line made only of c (at least 8 of
// them), surrounded by blanks.
func isRule(c byte) func(string) bool {
	return func(line string) bool {
		line = strings.TrimSpace(line)
		if len(line) < 8 {
			return false
		}
		for i := 0; i < len(line); i++ {
			if line[i] != c {
				return false
			}
		}
		return true
	}
}

// parseFields reads "Key: 123   Other-Key: 456" pairs from a block.
// Non-numeric values (pps lines are numeric too) are skipped; a key that
// appears twice is an error, so a half-overwritten block is not trusted.
func parseFields(block string) (map[string]uint64, error) {
	out := make(map[string]uint64)
	words := strings.Fields(block)
	for i := 0; i+1 < len(words); i++ {
		key, ok := strings.CutSuffix(words[i], ":")
		if !ok || key == "" {
			continue
		}
		v, err := strconv.ParseUint(words[i+1], 10, 64)
		if err != nil {
			if isDigits(words[i+1]) {
				return nil, parseError("%s: %q overflows a counter", key, words[i+1])
			}
			continue
		}
		if _, dup := out[key]; dup {
			return nil, parseError("%s appears twice", key)
		}
		out[key] = v
		i++
	}
	return out, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isXStatName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return s != ""
}
