package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/memif-wasm/memif-wasm/host"
	"github.com/memif-wasm/memif-wasm/host/daemon/source"
	"github.com/memif-wasm/memif-wasm/memif"
	"go.yaml.in/yaml/v3"
)

// Limits and defaults of configuration values.
const (
	DefaultSocket     = memif.DefaultSocketPath // as VPP
	DefaultRingSize   = 1 << memif.DefaultLog2RingSize
	MinRingSize       = 2
	MaxRingSize       = 1 << memif.MaxLog2RingSize
	DefaultBufferSize = memif.DefaultBufferSize
	// MinBufferSize is this daemon's floor: smaller buffers would chain
	// even a minimal frame with its headers.
	MinBufferSize = 128
	MaxBufferSize = memif.MaxBufferSize
	// DefaultMTU is the largest frame an interface carries whole unless its
	// mtu says otherwise: a jumbo frame, as the host's default max_frame.
	DefaultMTU        = host.DefaultMaxFrame
	MinMTU            = 64
	MaxMTU            = 65535
	MaxQueues         = memif.MaxQueues
	MaxNameLen        = memif.MaxNameLen
	MaxSecretLen      = memif.MaxSecretLen
	MaxPluginsPerPipe = 16
	MaxFuel           = host.MaxFuel
	MaxStack          = host.MaxStack
	MaxTxRetries      = 1 << 20
	// MaxTxRetryTime bounds Interface.TxRetryTime. A worker does not watch
	// its queue or a stop request while it waits for a tx ring, so a reload
	// or shutdown can wait this long per port a burst goes to; longer than
	// a second is a peer that is gone, not one that is late.
	MaxTxRetryTime = time.Second
	// MinPullInterval bounds Plugin.PullInterval from below: a registry is
	// not a thing to poll faster than that.
	MinPullInterval = time.Second
	MaxAttempts     = 100
	MaxBackoff      = time.Minute
)

// Config is the whole daemon configuration. The zero value is a daemon with
// no tenants, logging text at info level, with no metrics listener and no
// admin API.
type Config struct {
	Log      Log      `yaml:"log"`
	Metrics  Metrics  `yaml:"metrics"`
	Admin    Admin    `yaml:"admin"`
	Engine   Engine   `yaml:"engine"`
	Registry Registry `yaml:"registry"`
	Tenants  []Tenant `yaml:"tenants"`
}

// Log configures log/slog output.
type Log struct {
	// Format is "text" (default) or "json".
	Format string `yaml:"format"`
	// Level is "debug", "info" (default), "warn" or "error".
	Level string `yaml:"level"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Addr is HOST:PORT for /metrics; empty: no metrics listener.
	Addr string `yaml:"addr"`
}

// Admin configures the HTTP/JSON admin API.
type Admin struct {
	// Socket is the unix socket path of the admin API. Empty: none.
	Socket string `yaml:"socket"`
	// SocketMode, SocketOwner and SocketGroup set the admin socket file's
	// permission bits (octal; default "0600": only the daemon's user), user
	// and group (name or numeric id; default: the daemon's). Whoever may
	// write the file may use the API: no token is asked on the socket.
	SocketMode  string `yaml:"socket_mode"`
	SocketOwner string `yaml:"socket_owner"`
	SocketGroup string `yaml:"socket_group"`
	// TCP is an optional loopback HOST:PORT for the admin API; it requires a
	// bearer token (TokenFile).
	TCP string `yaml:"tcp"`
	// TokenFile holds the bearer token required on TCP; the unix socket
	// never asks for it (its file's permissions guard it).
	TokenFile string `yaml:"token_file"`
}

// Engine configures the wasm engine shared by every tenant.
type Engine struct {
	// CacheDir keeps compiled plugins on disk across restarts. Empty: memory only.
	CacheDir string `yaml:"cache_dir"`
	// MaxMemoryPages caps any plugin's linear memory (64 KiB pages). 0: host default (1 GiB).
	MaxMemoryPages uint32 `yaml:"max_memory_pages"`
}

// Registry configures how plugins with a source (oci://, https://) are
// fetched. It takes effect on restart only.
type Registry struct {
	// CacheDir keeps verified modules, manifests and signatures by digest
	// across restarts, so a plugin whose registry is down still loads from
	// what was verified before. Empty: no disk cache.
	CacheDir string `yaml:"cache_dir"`
	// DockerConfig is a docker config.json giving registry credentials
	// (auths, credential helpers). Empty: anonymous.
	DockerConfig string `yaml:"docker_config"`
	// CAFile is a PEM bundle of certificate authorities trusted for
	// registries and https sources besides the system's. Empty: the system's.
	CAFile string `yaml:"ca_file"`
	// Insecure lists registries (HOST or HOST:PORT) that may be reached over
	// plain HTTP. Every other registry is reached over TLS, except loopback
	// ones.
	Insecure []string `yaml:"insecure"`
	// MaxModuleSize bounds a module and the layer carrying it, in bytes; a
	// larger one is refused from its descriptor, before it is read. 0:
	// 64 MiB.
	MaxModuleSize int64 `yaml:"max_module_size"`
	// Attempts is how often a registry request is tried before the fetch
	// fails, 1..MaxAttempts. 0: 4.
	Attempts int `yaml:"attempts"`
	// Backoff is the wait before the second attempt, doubled for each
	// further one, 0..MaxBackoff. 0: 250ms.
	Backoff time.Duration `yaml:"backoff"`
}

// Signatures is a tenant's signature policy for its plugins.
type Signatures struct {
	// Policy is "off" (default: signatures are not looked at), "warn" (a
	// plugin without a valid signature loads, and the daemon logs why) or
	// "require" (it is refused with the reason).
	Policy string `yaml:"policy"`
	// Keys are PEM public key files (ECDSA P-256 or Ed25519, as cosign
	// writes cosign.pub); a signature made by any of them verifies.
	// Required by warn and require.
	Keys []string `yaml:"keys"`
}

// Tenant is one isolated set of interfaces and plugins.
type Tenant struct {
	// Name labels the tenant in metrics, logs and the admin API. Required.
	Name string `yaml:"name"`
	// MaxMemoryPages bounds the linear memory (64 KiB pages) of all the
	// tenant's plugin instances together (one instance per plugin per
	// queue, plus one during a reload); it also caps each plugin that sets
	// no memory_pages. 0: no tenant-wide bound.
	MaxMemoryPages uint64 `yaml:"max_memory_pages"`
	// MaxInstances bounds the tenant's live plugin instances together. 0: no bound.
	MaxInstances int `yaml:"max_instances"`
	// Fuel is the per-burst fuel budget of the tenant's plugins that set
	// none (about one unit per wasm instruction). 0: the host's default.
	Fuel int64 `yaml:"fuel"`
	// ColdFuel is the fuel budget of the rare calls off the packet path
	// (start, _initialize, mw_init, mw_control, state hooks) of the
	// tenant's plugins that set none. 0: the host's default (2^28).
	ColdFuel int64 `yaml:"cold_fuel"`
	// Stack is the call stack, in bytes as the host estimates guest frames,
	// that one call of the tenant's plugins that set none may take; deeper
	// recursion is a fault (reason "stack"). 0: the host's default (256 KiB,
	// host.DefaultStack); at most MaxStack.
	Stack int64 `yaml:"stack"`
	// Signatures is the policy for the signatures of the tenant's plugins.
	Signatures Signatures `yaml:"signatures"`
	// Interfaces are the tenant's ports, numbered by position from 0.
	Interfaces []Interface `yaml:"interfaces"`
}

// Interface is one memif interface and the pipeline run on what it receives.
type Interface struct {
	// Name is unique within the tenant and is sent to the peer. Required, at most 31 bytes.
	Name string `yaml:"name"`
	// Socket is the control socket path ("@name": abstract). Default DefaultSocket.
	Socket string `yaml:"socket"`
	// SocketMode, SocketOwner and SocketGroup (master only) set the socket
	// file's permission bits (octal, e.g. "0660"), user and group (name or
	// numeric id), so that a peer running as another user can connect: it
	// needs write permission on the file. Empty: as created (mode 0777 less
	// the umask, the daemon's user and group). Interfaces sharing a socket
	// must agree.
	SocketMode  string `yaml:"socket_mode"`
	SocketOwner string `yaml:"socket_owner"`
	SocketGroup string `yaml:"socket_group"`
	// Role is "slave" (default: connects, allocates memory) or "master"
	// (listens); DPDK's "client" and "server" are accepted too.
	Role string `yaml:"role"`
	// ID matches this interface with its peer on the socket.
	ID uint32 `yaml:"id"`
	// Secret, if set, must match the peer's; at most 24 bytes.
	Secret string `yaml:"secret"`
	// Queues is the number of queues each way, 1..255; 0 means 1. One worker per rx queue.
	Queues int `yaml:"queues"`
	// RingSize is descriptors per ring, a power of two 2..16384; 0 means 1024.
	RingSize int `yaml:"ring_size"`
	// BufferSize is bytes per packet buffer, 128..65535; 0 means 2048.
	BufferSize int `yaml:"buffer_size"`
	// MTU is the largest frame the interface must carry whole, 64..65535;
	// 0 means DefaultMTU. A slave (which sizes the rings) whose ring cannot
	// hold one such frame in its buffers is refused at load.
	MTU int `yaml:"mtu"`
	// AllowUnsealedRegions (master only) accepts shared memory the peer
	// could shrink under this process (memif.InterfaceConfig's field of the
	// same name): for a trusted peer such as DPDK's zero-copy client. A
	// truncation then ends the connection, but such a region is never
	// shown to plugins in place (copy placement).
	AllowUnsealedRegions bool `yaml:"allow_unsealed_regions"`
	// Mode is "ethernet" (default), "ip" or "punt-inject" (memif.Mode).
	Mode string `yaml:"mode"`
	// RxMode is "interrupt" (default) or "polling" (memif.RxMode).
	RxMode string `yaml:"rx_mode"`
	// Egress names the tenant interface that PASSed packets leave by; empty: PASS drops.
	Egress string `yaml:"egress"`
	// Redirect names the tenant interfaces this pipeline's plugins may
	// REDIRECT to; empty: any interface of the tenant. A REDIRECT to a port
	// outside the list becomes ABORTED.
	Redirect []string `yaml:"redirect"`
	// TxRetries, when positive, also caps how often a worker retries one
	// packet on a full tx ring (the first few retries yield, later ones
	// sleep a few µs) before it drops the packet and counts it; whichever of
	// TxRetries and TxRetryTime runs out first ends the wait. 0, the
	// default, sets no count cap: TxRetryTime alone bounds the wait, as in
	// dataplane.WorkerConfig.
	TxRetries int `yaml:"tx_retries"`
	// TxRetryTime bounds how long one burst's packets for one port wait for
	// room on a full tx ring before those that do not fit are dropped and
	// counted (ring_full). A duration with its unit ("500us", "2ms"),
	// 0..MaxTxRetryTime; 0 means the host's default, 1 ms
	// (dataplane.DefaultTxRetryTime).
	TxRetryTime time.Duration `yaml:"tx_retry_time"`
	// PinWorkers locks each worker goroutine to an OS thread.
	PinWorkers bool `yaml:"pin_workers"`
	// Plugins run in order on every burst; empty: every packet is PASSed.
	Plugins []Plugin `yaml:"plugins"`
}

// Plugin is one stage of an interface's pipeline.
type Plugin struct {
	// Name is unique within the pipeline. Default: the file's base name without ".wasm".
	Name string `yaml:"name" json:"name,omitempty"`
	// File is the .wasm module; relative paths are relative to the config
	// file. Exactly one of File and Source is required.
	File string `yaml:"file" json:"file,omitempty"`
	// Source is where the module is fetched from instead of a file:
	// oci://REGISTRY/REPO:TAG, oci://REGISTRY/REPO@sha256:HEX, or an
	// https:// URL (which needs SHA256).
	Source string `yaml:"source" json:"source,omitempty"`
	// SHA256 pins the content: for a file or https module its sha256, for
	// an oci source the manifest digest. Hex, "sha256:" optional.
	SHA256 string `yaml:"sha256" json:"sha256,omitempty"`
	// PullPolicy of an oci tag: "IfNotPresent" (default: the cached digest
	// is used while it is there) or "Always" (resolved at every load).
	PullPolicy string `yaml:"pull_policy" json:"pull_policy,omitempty"`
	// PullInterval, with PullPolicy Always and a tag, is how often the tag
	// is resolved again while running; when it moved, the plugin is
	// reloaded (a new version that fails verification or admission leaves
	// the running one running). At least MinPullInterval; 0: only at loads.
	PullInterval time.Duration `yaml:"pull_interval" json:"pull_interval,omitempty"`
	// Signature is the detached signature (cosign sign-blob's base64
	// output) of a file or https module: a path (relative to the config
	// file) or an https URL. An oci module's signatures are found in its
	// registry.
	Signature string `yaml:"signature" json:"signature,omitempty"`
	// Config is handed to the plugin's mw_init as bytes. At most one of Config and ConfigFile.
	Config string `yaml:"config" json:"config,omitempty"`
	// ConfigFile is read and handed to mw_init; relative to the config file.
	ConfigFile string `yaml:"config_file" json:"config_file,omitempty"`
	// FailPolicy is "closed" (default: a faulting burst is dropped) or "open" (passed on).
	FailPolicy string `yaml:"fail_policy" json:"fail_policy,omitempty"`
	// MemoryPages caps this plugin's linear memory (64 KiB pages); 0: the
	// host's default (64 MiB), within the tenant's bound.
	MemoryPages uint32 `yaml:"memory_pages" json:"memory_pages,omitempty"`
	// Fuel is the fuel budget of one burst (about one unit per wasm
	// instruction); a burst that runs out is a fault. 0: the tenant's.
	Fuel int64 `yaml:"fuel" json:"fuel,omitempty"`
	// ColdFuel is the fuel budget of each call off the packet path (start,
	// _initialize, mw_init, mw_control, state hooks): a plugin that parses a
	// large config in mw_init or a large table in mw_control may need more.
	// 0: the tenant's.
	ColdFuel int64 `yaml:"cold_fuel" json:"cold_fuel,omitempty"`
	// Stack is the call stack, in bytes as the host estimates guest frames,
	// one call may take; deeper recursion is a fault (reason "stack"),
	// however much fuel is left. 0: the tenant's; at most MaxStack.
	Stack int64 `yaml:"stack" json:"stack,omitempty"`
	// WindowSize is the bytes of the plugin's packet window; 0: host default (16 MiB).
	WindowSize int `yaml:"window_size" json:"window_size,omitempty"`
	// MaxFrame is the largest packet copied whole; 0: host default (9216).
	MaxFrame int `yaml:"max_frame" json:"max_frame,omitempty"`
	// Snaplen, when positive, copies at most this many bytes of each packet.
	Snaplen int `yaml:"snaplen" json:"snaplen,omitempty"`
	// MaxBurst is the largest burst the plugin sees, 1..256; 0: 256.
	MaxBurst int `yaml:"max_burst" json:"max_burst,omitempty"`
	// Watch reloads the plugin when its file changes. Default true.
	Watch *bool `yaml:"watch" json:"watch,omitempty"`
}

// Error is one invalid configuration value: Field is its path in the file
// ("tenants[0].interfaces[1].ring_size"), Reason says what is wrong.
type Error struct {
	File   string
	Field  string
	Reason string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.File != "" {
		b.WriteString(" ")
		b.WriteString(e.File)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// ErrInvalid is wrapped by every error Parse and Validate return for a bad file.
var ErrInvalid = errors.New("invalid configuration")

func (e *Error) Unwrap() error { return ErrInvalid }

// Load reads and parses the file at path, resolving relative plugin paths
// against the file's directory. Errors name the file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	c.resolve(filepath.Dir(path))
	return c, nil
}

// Parse decodes YAML, refusing unknown and duplicate keys and anything after
// the first document, then validates the result. name labels errors (usually
// the file name) and may be empty.
func Parse(data []byte, name string) (*Config, error) {
	var c Config
	// First the tree's shape, so that unknown keys and wrong kinds of value
	// are named by path and expected form, all of them at once.
	var root yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&root); err == nil {
		if err := checkShape(&root); err != nil {
			return nil, withFile(err, name)
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && err != io.EOF {
		return nil, &Error{File: name, Reason: yamlReason(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, &Error{File: name, Reason: "more than one YAML document (one config per file)"}
	}
	if err := c.Validate(); err != nil {
		return nil, withFile(err, name)
	}
	return &c, nil
}

// yamlReason turns the decoder's message into one line without the library's prefix.
func yamlReason(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

func withFile(err error, file string) error {
	if file == "" {
		return err
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		var ce *Error
		if errors.As(e, &ce) {
			ce.File = file
		}
	}
	return err
}

// resolve makes relative file paths relative to dir.
func (c *Config) resolve(dir string) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	c.Admin.TokenFile = abs(c.Admin.TokenFile)
	c.Registry.CacheDir = abs(c.Registry.CacheDir)
	c.Registry.DockerConfig = abs(c.Registry.DockerConfig)
	c.Registry.CAFile = abs(c.Registry.CAFile)
	for ti := range c.Tenants {
		keys := c.Tenants[ti].Signatures.Keys
		for ki := range keys {
			keys[ki] = abs(keys[ki])
		}
		for ii := range c.Tenants[ti].Interfaces {
			ps := c.Tenants[ti].Interfaces[ii].Plugins
			for pi := range ps {
				ps[pi].File = abs(ps[pi].File)
				ps[pi].ConfigFile = abs(ps[pi].ConfigFile)
				if !strings.HasPrefix(ps[pi].Signature, "https://") {
					ps[pi].Signature = abs(ps[pi].Signature)
				}
			}
		}
	}
}

// RingLog2 is log2 of the ring size with the default applied.
func (i *Interface) RingLog2() uint8 {
	n := i.RingSize
	if n == 0 {
		n = DefaultRingSize
	}
	var l uint8
	for 1<<l < n {
		l++
	}
	return l
}

// FrameMTU is MTU with the default applied.
func (i *Interface) FrameMTU() int {
	if i.MTU == 0 {
		return DefaultMTU
	}
	return i.MTU
}

// BufferBytes is BufferSize with the default applied.
func (i *Interface) BufferBytes() int {
	if i.BufferSize == 0 {
		return DefaultBufferSize
	}
	return i.BufferSize
}

// NumQueues is Queues with the default applied.
func (i *Interface) NumQueues() int { return max(i.Queues, 1) }

// SocketPath is Socket with the default applied.
func (i *Interface) SocketPath() string {
	if i.Socket == "" {
		return DefaultSocket
	}
	return i.Socket
}

// IsMaster reports whether the interface listens.
func (i *Interface) IsMaster() bool { return i.MemifRole() == memif.RoleMaster }

// MemifRole, MemifMode and MemifRxMode are Role, Mode and RxMode parsed
// by memif; empty or invalid gives memif's zero value (slave, ethernet,
// interrupt: the defaults), and Validate reports an invalid one.
func (i *Interface) MemifRole() memif.Role     { return parseEnum[memif.Role](i.Role) }
func (i *Interface) MemifMode() memif.Mode     { return parseEnum[memif.Mode](i.Mode) }
func (i *Interface) MemifRxMode() memif.RxMode { return parseEnum[memif.RxMode](i.RxMode) }

// parseEnum parses s with a memif enum's own UnmarshalText.
func parseEnum[T any, P interface {
	*T
	encoding.TextUnmarshaler
}](s string) T {
	var v T
	P(&v).UnmarshalText([]byte(s))
	return v
}

// PluginName is the plugin's name with the default applied.
func (p *Plugin) PluginName() string {
	if p.Name != "" {
		return p.Name
	}
	if p.File == "" && p.Source != "" {
		if r, err := source.Parse(p.Source); err == nil {
			return r.BaseName()
		}
	}
	return strings.TrimSuffix(filepath.Base(p.File), ".wasm")
}

// Watched reports whether the plugin reloads when its file changes.
func (p *Plugin) Watched() bool { return p.Watch == nil || *p.Watch }

// Port returns the port number (position) of the tenant's interface called
// name, or -1.
func (t *Tenant) Port(name string) int {
	for i := range t.Interfaces {
		if t.Interfaces[i].Name == name {
			return i
		}
	}
	return -1
}

// Tenant returns the tenant called name, or nil.
func (c *Config) Tenant(name string) *Tenant {
	for i := range c.Tenants {
		if c.Tenants[i].Name == name {
			return &c.Tenants[i]
		}
	}
	return nil
}

// SocketFile is the interface's socket file settings for memif; call it on
// a validated config.
func (i *Interface) SocketFile() memif.SocketFile {
	m, _ := parseMode(i.SocketMode)
	return memif.SocketFile{Mode: m, Owner: i.SocketOwner, Group: i.SocketGroup}
}

// SocketFile is the admin socket file's settings (mode 0600 by default);
// call it on a validated config.
func (a *Admin) SocketFile() memif.SocketFile {
	m, _ := parseMode(a.SocketMode)
	if a.SocketMode == "" {
		m = 0o600
	}
	return memif.SocketFile{Mode: m, Owner: a.SocketOwner, Group: a.SocketGroup}
}

// parseMode reads permission bits in octal ("0660", "660", "0o660"); "" is 0.
func parseMode(s string) (fs.FileMode, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O"), 8, 32)
	if err != nil || n == 0 || n > 0o777 {
		return 0, fmt.Errorf("%q is not permission bits in octal, 0001..0777 (e.g. \"0660\")", s)
	}
	return fs.FileMode(n), nil
}
