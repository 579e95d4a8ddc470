package testpmd

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Role is the memif role of one testpmd port. Its zero value is invalid:
// a port must say which side of the socket it is.
type Role uint8

// The two memif roles, named as DPDK 22.11 names them.
const (
	_          Role = iota
	RoleServer      // listens on the socket (memif master)
	RoleClient      // connects to the socket and allocates the shared memory (memif slave)
)

func (r Role) String() string {
	switch r {
	case RoleServer:
		return "server"
	case RoleClient:
		return "client"
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// Port describes one memif vdev (net_memifN) of a testpmd process. Port N
// in testpmd is Config.Ports[N].
type Port struct {
	// Role is required.
	Role Role
	// Socket is the control socket: a filesystem path, or "@name" for an
	// abstract socket. Required. A stale socket file at a server's path is
	// removed before testpmd starts, because testpmd would otherwise fail to
	// create the port and keep running without it.
	Socket string
	// ID is the memif interface id (default 0).
	ID uint32
	// BufferSize is the memif buffer size in bytes, 1..65535 (default 2048).
	BufferSize int
	// LogRingSize is log2 of the ring size, 1..14 (default 10).
	LogRingSize int
	// Secret is the memif secret, at most 24 bytes (default none).
	Secret string
	// MAC is the port's Ethernet address as xx:xx:xx:xx:xx:xx (default random).
	MAC string
	// ZeroCopy (client only) makes the PMD hand its own memory segments to
	// the server as buffer regions (devargs zero-copy=yes, with EAL's
	// --single-file-segments). Without hugepages that memory is a memfd
	// DPDK creates without MFD_ALLOW_SEALING: it cannot be sealed.
	ZeroCopy bool
}

// Config describes a testpmd process. The zero value of every field but
// Ports selects the default given in its comment.
type Config struct {
	// Ports are the memif vdevs, at least one.
	Ports []Port
	// ForwardMode is testpmd's --forward-mode (default "io"). A DPDK client
	// refills its receive ring only inside rx_burst, so a client in "txonly"
	// mode never accepts packets from its peer.
	ForwardMode string
	// RxQueues and TxQueues are the queue counts of every port, 1..255
	// (default 1 each).
	RxQueues, TxQueues int
	// TxPacketLen is the frame length that txonly and flowgen send, 64..2048
	// bytes (default 64).
	TxPacketLen int
	// Burst is testpmd's burst size, 1..512 (default 32).
	Burst int
	// ForwardCores is the number of forwarding lcores (default 1). Lcores
	// must provide one more lcore than this for the main lcore.
	ForwardCores int
	// Lcores is EAL's --lcores map (default: lcores 0..ForwardCores float
	// over all CPUs, so two testpmds and the Go test share the machine).
	Lcores string
	// MemoryMB is EAL's -m in MiB (default 64). No hugepages are used.
	MemoryMB int
	// Mbufs is testpmd's --total-num-mbufs (default 8192); 2176 bytes each.
	Mbufs int
	// LogLevel is passed as --log-level (default "pmd.net.memif:info", which
	// logs connects and disconnects, useful in error tails).
	LogLevel string
	// Binary is the testpmd executable (default: $TESTPMD, else
	// dpdk-testpmd on PATH).
	Binary string
	// Timeout bounds every wait: startup, each command, link up, exit
	// (default 30s: generous, because a loaded 2-CPU machine can take
	// seconds to start testpmd, and a healthy run never gets near it).
	Timeout time.Duration
	// ExtraArgs are appended to testpmd's application arguments (after --).
	ExtraArgs []string
}

// The forward modes of testpmd 22.11.
var forwardModes = []string{
	"io", "mac", "macswap", "flowgen", "rxonly", "txonly", "csum",
	"icmpecho", "noisy", "5tswap", "shared-rxq", "ieee1588",
}

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("invalid testpmd config")

func configError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
}

// withDefaults returns a copy of c with defaults applied, or the first
// problem found.
func (c *Config) withDefaults() (Config, error) {
	var d Config
	if c != nil {
		d = *c
		d.Ports = append([]Port(nil), c.Ports...)
		d.ExtraArgs = append([]string(nil), c.ExtraArgs...)
	}
	if len(d.Ports) == 0 {
		return d, configError("no ports")
	}
	if len(d.Ports) > 32 {
		return d, configError("%d ports, at most 32", len(d.Ports))
	}
	for i := range d.Ports {
		if err := d.Ports[i].validate(); err != nil {
			return d, configError("port %d: %v", i, err)
		}
	}
	setDefault(&d.ForwardMode, "io")
	if !contains(forwardModes, d.ForwardMode) {
		return d, configError("forward mode %q is not one of %s", d.ForwardMode, strings.Join(forwardModes, ", "))
	}
	type bounded struct {
		name        string
		v           *int
		def, lo, hi int
	}
	for _, b := range []bounded{
		{"RxQueues", &d.RxQueues, 1, 1, 255},
		{"TxQueues", &d.TxQueues, 1, 1, 255},
		{"TxPacketLen", &d.TxPacketLen, 64, 64, 2048},
		{"Burst", &d.Burst, 32, 1, 512},
		{"ForwardCores", &d.ForwardCores, 1, 1, 127},
		{"MemoryMB", &d.MemoryMB, 64, 16, 1 << 16},
		{"Mbufs", &d.Mbufs, 8192, 512, 1 << 24},
	} {
		if *b.v == 0 {
			*b.v = b.def
		}
		if *b.v < b.lo || *b.v > b.hi {
			return d, configError("%s %d out of range %d..%d", b.name, *b.v, b.lo, b.hi)
		}
	}
	if d.Lcores == "" {
		d.Lcores = defaultLcores(d.ForwardCores, runtime.NumCPU())
	}
	if strings.ContainsAny(d.Lcores, " \t\n") {
		return d, configError("lcores %q contains white space", d.Lcores)
	}
	setDefault(&d.LogLevel, "pmd.net.memif:info")
	if d.Binary == "" {
		d.Binary = os.Getenv("TESTPMD")
	}
	setDefault(&d.Binary, "dpdk-testpmd")
	if d.Timeout == 0 {
		d.Timeout = 30 * time.Second
	}
	if d.Timeout < 0 {
		return d, configError("negative timeout %v", d.Timeout)
	}
	return d, nil
}

// defaultLcores lets the main lcore and the forwarding lcores float over all
// CPUs. testpmd's forwarding lcores busy-poll; pinning them would starve
// whatever else is pinned to, or scheduled on, the same CPU.
func defaultLcores(forwardCores, cpus int) string {
	cpuSet := "0"
	if cpus > 1 {
		cpuSet = "(0-" + strconv.Itoa(cpus-1) + ")"
	}
	return "(0-" + strconv.Itoa(forwardCores) + ")@" + cpuSet
}

func (p *Port) validate() error {
	if p.Role != RoleServer && p.Role != RoleClient {
		return fmt.Errorf("role %v is neither server nor client", p.Role)
	}
	name := strings.TrimPrefix(p.Socket, "@")
	switch {
	case name == "":
		return errors.New("no socket")
	case len(name) > 107:
		return fmt.Errorf("socket %q is %d bytes, longer than sun_path allows (107)", name, len(name))
	case strings.ContainsAny(name, ",= \t\n\x00"):
		// A comma or '=' would smuggle extra devargs into the vdev string.
		return fmt.Errorf("socket %q contains a character that devargs cannot carry (',', '=', white space or NUL)", name)
	}
	if p.BufferSize < 0 || p.BufferSize > 65535 {
		return fmt.Errorf("buffer size %d out of range 1..65535", p.BufferSize)
	}
	if p.LogRingSize < 0 || p.LogRingSize > 14 {
		return fmt.Errorf("log2 ring size %d out of range 1..14", p.LogRingSize)
	}
	if len(p.Secret) > 24 {
		return fmt.Errorf("secret is %d bytes, at most 24", len(p.Secret))
	}
	if p.ZeroCopy && p.Role != RoleClient {
		return errors.New("zero-copy is a client's option: the client hands its memory to the server")
	}
	if strings.ContainsAny(p.Secret, ",= \t\n\x00") {
		return errors.New("secret contains a character that devargs cannot carry (',', '=', white space or NUL)")
	}
	if p.MAC != "" && !isMAC(p.MAC) {
		return fmt.Errorf("MAC %q is not of the form xx:xx:xx:xx:xx:xx", p.MAC)
	}
	return nil
}

// devargs is the --vdev value of port index i.
func (p *Port) devargs(i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "net_memif%d,role=%s,id=%d", i, p.Role, p.ID)
	if name, ok := strings.CutPrefix(p.Socket, "@"); ok {
		fmt.Fprintf(&b, ",socket=%s,socket-abstract=yes", name)
	} else {
		fmt.Fprintf(&b, ",socket=%s,socket-abstract=no", p.Socket)
	}
	if p.BufferSize != 0 {
		fmt.Fprintf(&b, ",bsize=%d", p.BufferSize)
	}
	if p.LogRingSize != 0 {
		fmt.Fprintf(&b, ",rsize=%d", p.LogRingSize)
	}
	if p.Secret != "" {
		fmt.Fprintf(&b, ",secret=%s", p.Secret)
	}
	if p.MAC != "" {
		fmt.Fprintf(&b, ",mac=%s", p.MAC)
	}
	if p.ZeroCopy {
		b.WriteString(",zero-copy=yes")
	}
	return b.String()
}

// args returns testpmd's command line (without the binary) for a config
// that went through withDefaults.
func (c *Config) args(filePrefix string) []string {
	a := []string{
		"--lcores", c.Lcores,
		"--no-huge", "--no-pci", "--no-shconf", "--no-telemetry",
		"-m", strconv.Itoa(c.MemoryMB),
		"--file-prefix", filePrefix,
		"--log-level", c.LogLevel,
	}
	for i := range c.Ports {
		a = append(a, "--vdev", c.Ports[i].devargs(i))
		if c.Ports[i].ZeroCopy && !slices.Contains(a, "--single-file-segments") {
			a = append(a, "--single-file-segments")
		}
	}
	topology := "paired"
	if len(c.Ports)%2 == 1 {
		// With an odd port count "paired" would pair the last port with
		// itself anyway, after a warning; say what is meant.
		topology = "loop"
	}
	a = append(a, "--",
		"-i",
		"--no-mlockall",
		"--total-num-mbufs="+strconv.Itoa(c.Mbufs),
		"--forward-mode="+c.ForwardMode,
		"--port-topology="+topology,
		"--rxq="+strconv.Itoa(c.RxQueues),
		"--txq="+strconv.Itoa(c.TxQueues),
		"--nb-cores="+strconv.Itoa(c.ForwardCores),
		"--burst="+strconv.Itoa(c.Burst),
		"--txpkts="+strconv.Itoa(c.TxPacketLen),
	)
	return append(a, c.ExtraArgs...)
}

func setDefault(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isMAC(s string) bool {
	if len(s) != 17 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i%3 == 2 {
			if c != ':' {
				return false
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
