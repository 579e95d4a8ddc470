package config

import (
	"encoding"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/memif-wasm/memif-wasm/host/daemon/source"
	"github.com/memif-wasm/memif-wasm/memif"
)

// Validate checks every value and cross-reference and returns all problems
// found, joined, each an *Error naming the field. It does not touch the file
// system: missing plugin files are reported when the daemon loads them.
func (c *Config) Validate() error {
	v := validator{}
	v.oneOf("log.format", c.Log.Format, "text", "json")
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.hostPort("metrics.addr", c.Metrics.Addr, false)
	v.hostPort("admin.tcp", c.Admin.TCP, true)
	v.socketFile("admin", c.Admin.SocketMode, c.Admin.SocketFile())
	if c.Admin.TCP != "" && c.Admin.TokenFile == "" {
		v.add("admin.token_file", "required when admin.tcp is set: the TCP admin API needs a bearer token")
	}
	if c.Engine.MaxMemoryPages > 65536 {
		v.add("engine.max_memory_pages", fmt.Sprintf("%d is above 65536 (4 GiB, the wasm32 limit)", c.Engine.MaxMemoryPages))
	}

	v.registry(&c.Registry)

	tenants := map[string]int{}
	type sockID struct {
		socket string
		id     uint32
	}
	ids := map[sockID]string{}
	type sockFile struct {
		where string
		file  memif.SocketFile
	}
	files := map[string]sockFile{} // socket path -> the first master's file settings
	for ti := range c.Tenants {
		t := &c.Tenants[ti]
		tp := fmt.Sprintf("tenants[%d]", ti)
		v.name(tp+".name", t.Name)
		if prev, dup := tenants[t.Name]; dup && t.Name != "" {
			v.add(tp+".name", fmt.Sprintf("duplicate tenant %q (also tenants[%d])", t.Name, prev))
		} else {
			tenants[t.Name] = ti
		}
		if t.MaxInstances < 0 {
			v.add(tp+".max_instances", fmt.Sprintf("%d is negative", t.MaxInstances))
		}
		if t.Fuel < 0 || t.Fuel > MaxFuel {
			v.add(tp+".fuel", fmt.Sprintf("%d is outside 0..%d", t.Fuel, int64(MaxFuel)))
		}
		if t.ColdFuel < 0 || t.ColdFuel > MaxFuel {
			v.add(tp+".cold_fuel", fmt.Sprintf("%d is outside 0..%d", t.ColdFuel, int64(MaxFuel)))
		}
		v.stack(tp+".stack", t.Stack)
		if pol, err := source.ParseSignaturePolicy(t.Signatures.Policy); err != nil {
			v.add(tp+".signatures.policy", err.Error())
		} else if pol != source.SignaturesOff && len(t.Signatures.Keys) == 0 {
			v.add(tp+".signatures.keys", fmt.Sprintf("policy %s needs at least one public key", pol))
		}
		for ki, k := range t.Signatures.Keys {
			if k == "" {
				v.add(fmt.Sprintf("%s.signatures.keys[%d]", tp, ki), "empty path")
			}
		}
		if len(t.Interfaces) == 0 {
			v.add(tp+".interfaces", "a tenant needs at least one interface")
		}
		names := map[string]int{}
		for ii := range t.Interfaces {
			in := &t.Interfaces[ii]
			ip := fmt.Sprintf("%s.interfaces[%d]", tp, ii)
			v.name(ip+".name", in.Name)
			if prev, dup := names[in.Name]; dup && in.Name != "" {
				v.add(ip+".name", fmt.Sprintf("duplicate interface %q in tenant %q (also interfaces[%d])", in.Name, t.Name, prev))
			} else {
				names[in.Name] = ii
			}
			key := sockID{in.SocketPath(), in.ID}
			if prev, dup := ids[key]; dup {
				v.add(ip+".id", fmt.Sprintf("duplicate id %d on socket %s (also %s)", in.ID, key.socket, prev))
			} else {
				ids[key] = ip
			}
			v.interfaceValues(ip, in)
			var r memif.Role
			if r.UnmarshalText([]byte(in.Role)) == nil && r == memif.RoleMaster {
				f := in.SocketFile()
				if prev, seen := files[in.SocketPath()]; seen && prev.file != f {
					v.add(ip+".socket_mode", fmt.Sprintf("socket %s: socket_mode, socket_owner and socket_group differ from %s's; interfaces sharing a socket share its file", in.SocketPath(), prev.where))
				} else if !seen {
					files[in.SocketPath()] = sockFile{ip, f}
				}
			}
			if in.Egress != "" && t.Port(in.Egress) < 0 {
				v.add(ip+".egress", fmt.Sprintf("no interface %q in tenant %q", in.Egress, t.Name))
			}
			for ri, r := range in.Redirect {
				if t.Port(r) < 0 {
					v.add(fmt.Sprintf("%s.redirect[%d]", ip, ri), fmt.Sprintf("no interface %q in tenant %q", r, t.Name))
				}
			}
			if len(in.Plugins) > MaxPluginsPerPipe {
				v.add(ip+".plugins", fmt.Sprintf("%d plugins, at most %d per pipeline", len(in.Plugins), MaxPluginsPerPipe))
			}
			plugins := map[string]int{}
			for pi := range in.Plugins {
				p := &in.Plugins[pi]
				pp := fmt.Sprintf("%s.plugins[%d]", ip, pi)
				v.plugin(pp, p)
				n := p.PluginName()
				if prev, dup := plugins[n]; dup && n != "" {
					v.add(pp+".name", fmt.Sprintf("duplicate plugin %q in this pipeline (also plugins[%d]); set name to tell them apart", n, prev))
				} else {
					plugins[n] = pi
				}
			}
		}
	}
	return v.err()
}

func (v *validator) interfaceValues(ip string, in *Interface) {
	if in.Socket != "" && in.Socket != "@" && strings.ContainsRune(in.Socket, 0) {
		v.add(ip+".socket", "contains a NUL byte")
	}
	if in.Socket == "@" {
		v.add(ip+".socket", `"@" alone is not an abstract socket name`)
	}
	if len(in.Socket) > 107 {
		v.add(ip+".socket", fmt.Sprintf("%d bytes, a unix socket path holds at most 107", len(in.Socket)))
	}
	var role memif.Role
	v.memifEnum(ip+".role", in.Role, &role)
	if f := in.SocketFile(); in.SocketMode != "" || !f.IsZero() {
		if role != memif.RoleMaster {
			v.add(ip+".socket_mode", "socket_mode, socket_owner and socket_group apply to a master, which creates the socket file; a slave connects to its peer's")
		}
		v.socketFile(ip, in.SocketMode, f)
	}
	if len(in.Secret) > MaxSecretLen {
		v.add(ip+".secret", fmt.Sprintf("%d bytes, at most %d", len(in.Secret), MaxSecretLen))
	}
	if in.Queues < 0 || in.Queues > MaxQueues {
		v.add(ip+".queues", fmt.Sprintf("%d is outside 1..%d", in.Queues, MaxQueues))
	}
	ringOK := in.RingSize == 0 || in.RingSize >= MinRingSize && in.RingSize <= MaxRingSize && in.RingSize&(in.RingSize-1) == 0
	if !ringOK {
		v.add(ip+".ring_size", fmt.Sprintf("%d is not a power of two between %d and %d", in.RingSize, MinRingSize, MaxRingSize))
	}
	bufOK := in.BufferSize == 0 || in.BufferSize >= MinBufferSize && in.BufferSize <= MaxBufferSize
	if !bufOK {
		v.add(ip+".buffer_size", fmt.Sprintf("%d is outside %d..%d", in.BufferSize, MinBufferSize, MaxBufferSize))
	}
	mtuOK := in.MTU == 0 || in.MTU >= MinMTU && in.MTU <= MaxMTU
	if !mtuOK {
		v.add(ip+".mtu", fmt.Sprintf("%d is outside %d..%d", in.MTU, MinMTU, MaxMTU))
	}
	// A slave sizes the rings (a master learns them from its slave): one
	// whose ring cannot hold a single frame of the MTU in its buffers could
	// never send such a frame, nor receive it from the master, and would
	// drop every one.
	if !in.IsMaster() && ringOK && bufOK && mtuOK {
		ring, buf, mtu := 1<<in.RingLog2(), in.BufferBytes(), in.FrameMTU()
		if need := (mtu + buf - 1) / buf; need > ring {
			v.add(ip+".ring_size", fmt.Sprintf("%d buffers of %d bytes cannot hold one %d-byte frame (mtu): it needs %d; raise ring_size or buffer_size, or lower mtu", ring, buf, mtu, need))
		}
	}
	if in.TxRetries < 0 || in.TxRetries > MaxTxRetries {
		v.add(ip+".tx_retries", fmt.Sprintf("%d is outside 0..%d", in.TxRetries, MaxTxRetries))
	}
	if in.TxRetryTime < 0 || in.TxRetryTime > MaxTxRetryTime {
		v.add(ip+".tx_retry_time", fmt.Sprintf("%v is outside 0s..%v", in.TxRetryTime, MaxTxRetryTime))
	}
	if in.AllowUnsealedRegions && !in.IsMaster() {
		v.add(ip+".allow_unsealed_regions", "only a master maps its peer's memory; a slave allocates its own")
	}
	var mode memif.Mode
	v.memifEnum(ip+".mode", in.Mode, &mode)
	var rx memif.RxMode
	v.memifEnum(ip+".rx_mode", in.RxMode, &rx)
}

func (v *validator) plugin(pp string, p *Plugin) {
	v.pluginSource(pp, p)
	if p.Name != "" {
		v.name(pp+".name", p.Name)
	}
	if p.Config != "" && p.ConfigFile != "" {
		v.add(pp+".config_file", "set either config or config_file, not both")
	}
	v.oneOf(pp+".fail_policy", p.FailPolicy, "closed", "open")
	if p.MemoryPages > 65536 {
		v.add(pp+".memory_pages", fmt.Sprintf("%d is above 65536 (4 GiB, the wasm32 limit)", p.MemoryPages))
	}
	if p.Fuel < 0 || p.Fuel > MaxFuel {
		v.add(pp+".fuel", fmt.Sprintf("%d is outside 0..%d", p.Fuel, int64(MaxFuel)))
	}
	if p.ColdFuel < 0 || p.ColdFuel > MaxFuel {
		v.add(pp+".cold_fuel", fmt.Sprintf("%d is outside 0..%d", p.ColdFuel, int64(MaxFuel)))
	}
	v.stack(pp+".stack", p.Stack)
	if p.WindowSize < 0 || p.WindowSize > 1<<30 {
		v.add(pp+".window_size", fmt.Sprintf("%d is outside 0..%d", p.WindowSize, 1<<30))
	}
	if p.MaxFrame < 0 || p.MaxFrame > 65535 {
		v.add(pp+".max_frame", fmt.Sprintf("%d is outside 0..65535", p.MaxFrame))
	}
	if p.Snaplen < 0 || p.Snaplen > 65535 {
		v.add(pp+".snaplen", fmt.Sprintf("%d is outside 0..65535", p.Snaplen))
	}
	if p.MaxBurst < 0 || p.MaxBurst > 256 {
		v.add(pp+".max_burst", fmt.Sprintf("%d is outside 1..256", p.MaxBurst))
	}
}

// pluginSource checks where a plugin comes from and how it is pinned,
// pulled and signed.
func (v *validator) pluginSource(pp string, p *Plugin) {
	switch {
	case p.File == "" && p.Source == "":
		v.add(pp+".file", "required (or source): the .wasm module to load")
		return
	case p.File != "" && p.Source != "":
		v.add(pp+".source", "set either file or source, not both")
		return
	}
	kind := source.File
	if p.Source != "" {
		r, err := source.Parse(p.Source)
		switch {
		case err != nil:
			v.add(pp+".source", err.Error())
			return
		case r.Kind == source.File:
			v.add(pp+".source", fmt.Sprintf("%q: want oci://... or https://... (a local module goes in file)", p.Source))
			return
		}
		kind = r.Kind
		if r.Kind == source.OCI && r.Digest != "" && p.SHA256 != "" && strings.TrimPrefix(p.SHA256, "sha256:") != strings.TrimPrefix(r.Digest, "sha256:") {
			v.add(pp+".sha256", "differs from the digest in source")
		}
		if p.PullInterval > 0 && r.Tag == "" {
			v.add(pp+".pull_interval", "only a tag can move: the source names a digest")
		}
	}
	if p.SHA256 != "" {
		h := strings.TrimPrefix(p.SHA256, "sha256:")
		if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
			v.add(pp+".sha256", fmt.Sprintf("%q: want 64 lower-case hex digits", p.SHA256))
		}
	}
	if kind == source.HTTPS && p.SHA256 == "" {
		v.add(pp+".sha256", "required with an https source: the module's sha256")
	}
	pol, err := source.ParsePullPolicy(p.PullPolicy)
	if err != nil {
		v.add(pp+".pull_policy", err.Error())
	}
	if p.PullPolicy != "" && kind != source.OCI {
		v.add(pp+".pull_policy", "only for an oci source")
	}
	switch {
	case p.PullInterval < 0:
		v.add(pp+".pull_interval", fmt.Sprintf("%v is negative", p.PullInterval))
	case p.PullInterval > 0 && p.PullInterval < MinPullInterval:
		v.add(pp+".pull_interval", fmt.Sprintf("%v is below %v", p.PullInterval, MinPullInterval))
	case p.PullInterval > 0 && pol != source.PullAlways:
		v.add(pp+".pull_interval", "needs pull_policy Always")
	}
	if p.Signature != "" && kind == source.OCI {
		v.add(pp+".signature", "an oci module's signatures are found in its registry")
	}
	if strings.HasPrefix(p.Signature, "http://") {
		v.add(pp+".signature", "plain http is not accepted; use https:// or a path")
	}
}

func (v *validator) registry(r *Registry) {
	if r.MaxModuleSize < 0 {
		v.add("registry.max_module_size", fmt.Sprintf("%d is negative", r.MaxModuleSize))
	}
	if r.Attempts < 0 || r.Attempts > MaxAttempts {
		v.add("registry.attempts", fmt.Sprintf("%d is outside 0..%d", r.Attempts, MaxAttempts))
	}
	if r.Backoff < 0 || r.Backoff > MaxBackoff {
		v.add("registry.backoff", fmt.Sprintf("%v is outside 0s..%v", r.Backoff, MaxBackoff))
	}
	for i, h := range r.Insecure {
		if h == "" || strings.ContainsAny(h, "/ \t@") {
			v.add(fmt.Sprintf("registry.insecure[%d]", i), fmt.Sprintf("%q is not HOST or HOST:PORT", h))
		}
	}
}

// stack checks a stack budget in bytes; 0 is the default.
func (v *validator) stack(field string, n int64) {
	if n < 0 || n > MaxStack {
		v.add(field, fmt.Sprintf("%d is outside 0..%d (bytes of guest call stack; 0: default)", n, int64(MaxStack)))
	}
}

type validator struct{ errs []error }

func (v *validator) add(field, reason string) {
	v.errs = append(v.errs, &Error{Field: field, Reason: reason})
}

func (v *validator) err() error { return errors.Join(v.errs...) }

// memifEnum checks a role or mode with memif's own parser, the one flags
// and the admin API use too; empty means the default.
func (v *validator) memifEnum(field, val string, u encoding.TextUnmarshaler) {
	if val == "" {
		return
	}
	if err := u.UnmarshalText([]byte(val)); err != nil {
		v.add(field, strings.TrimPrefix(err.Error(), memif.ErrInvalid.Error()+": "))
	}
}

func (v *validator) oneOf(field, val string, allowed ...string) {
	if val == "" {
		return
	}
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	v.add(field, fmt.Sprintf("%q is not one of %s", val, strings.Join(allowed, ", ")))
}

// name checks a label used in metrics, URLs and memif names: required,
// printable, no slashes or spaces, at most MaxNameLen bytes.
func (v *validator) name(field, s string) {
	switch {
	case s == "":
		v.add(field, "required")
	case len(s) > MaxNameLen:
		v.add(field, fmt.Sprintf("%q is %d bytes, at most %d", s, len(s), MaxNameLen))
	default:
		for _, r := range s {
			if !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				v.add(field, fmt.Sprintf("%q: use only letters, digits, '-', '_' and '.'", s))
				return
			}
		}
	}
}

// hostPort checks HOST:PORT; loopback requires the host to be a loopback address.
func (v *validator) hostPort(field, s string, loopback bool) {
	if s == "" {
		return
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		v.add(field, fmt.Sprintf("%q is not HOST:PORT", s))
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add(field, fmt.Sprintf("port %q is not a number in 0..65535", port))
	}
	if !loopback {
		return
	}
	ip := net.ParseIP(host)
	if host == "localhost" || ip != nil && ip.IsLoopback() {
		return
	}
	v.add(field, fmt.Sprintf("%q is not a loopback address; the admin API is only served on loopback", host))
}

// socketFile checks the socket_mode, socket_owner and socket_group of the
// section at prefix; the owner and group must exist on this machine.
func (v *validator) socketFile(prefix, mode string, f memif.SocketFile) {
	if _, err := parseMode(mode); err != nil {
		v.add(prefix+".socket_mode", err.Error())
		return
	}
	if err := f.Validate(); err != nil {
		v.add(prefix+".socket_owner/socket_group", err.Error())
	}
}

// Warnings lists what is valid but probably not meant: a config with no
// tenant runs nothing, and an interface with neither a plugin nor an
// egress PASSes every packet to nowhere, dropping everything it receives.
func (c *Config) Warnings() []string {
	var w []string
	if len(c.Tenants) == 0 {
		w = append(w, "the config has no tenants: nothing will run")
	}
	for ti, t := range c.Tenants {
		for ii, in := range t.Interfaces {
			if len(in.Plugins) == 0 && in.Egress == "" {
				w = append(w, fmt.Sprintf("tenants[%d].interfaces[%d] (%s/%s): no plugin and no egress, so every packet is PASSed to nowhere and dropped", ti, ii, t.Name, in.Name))
			}
		}
	}
	return w
}
