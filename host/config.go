package host

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/internal/fuel"
)

// Defaults of PluginConfig.
const (
	DefaultMsgBufSize = 64 << 10
	DefaultWindowSize = 16 << 20
	DefaultMaxFrame   = 9216
	DefaultHeadroom   = 128

	// DefaultFuel is the fuel of one mw_process call: a call that spends all
	// of it at the slowest measured rate, DefaultFuelPerMicrosecond, returns
	// within about 1 ms. What the example plugins spend is in README.md
	// ("Sandbox budgets"), with the command that measures it.
	DefaultFuel int64 = 1000 * DefaultFuelPerMicrosecond
	// DefaultColdFuel is the fuel of the start function, _initialize, mw_init,
	// mw_control and the state hooks. It is larger than DefaultFuel because a
	// Go guest initialises its runtime and may collect garbage in these
	// calls; they are off the packet path.
	DefaultColdFuel int64 = 1 << 28
	// DefaultFuelPerMicrosecond is the measured worst-case rate (fuel per µs)
	// the defaults are derived from (BenchmarkFuelRate; README.md, "Sandbox
	// budgets").
	DefaultFuelPerMicrosecond = 5000
	// DefaultWASIMaxBurst is PluginConfig.MaxBurst's default for a module
	// that imports WASI (a Go guest), whose fuel per packet is far higher than
	// C's (README.md, "Sandbox budgets"): it keeps a whole call of the
	// heaviest example Go plugin well inside DefaultFuel.
	DefaultWASIMaxBurst = 64
	// DefaultStack is the call stack one guest call may take, in the
	// rewriter's per-frame estimate (64 bytes plus 8 per parameter and
	// local). Every example plugin runs within a sixteenth of it (the
	// plugins' end-to-end tests run them so). Before the stack budget only
	// fuel bounded recursion, and wazero grew the guest's stack on the Go
	// heap by doubling.
	DefaultStack = fuel.DefaultStack
	// DefaultMaxInstances bounds the live instances of one module (one per
	// worker, plus one during a reload).
	DefaultMaxInstances = 64
	// DefaultQuarantineFaults faults within DefaultQuarantineWindow quarantine a plugin.
	DefaultQuarantineFaults = 5
	DefaultQuarantineWindow = time.Minute
)

// PluginConfig is how one plugin runs. The zero value is the default.
type PluginConfig struct {
	// Logger receives the guest's log lines and stdout/stderr, so that
	// they carry the caller's keys (the daemon's: tenant, interface,
	// plugin). nil: the engine's logger with plugin set to the module name.
	Logger *slog.Logger
	// MaxMemoryPages caps the instance's linear memory (64 KiB pages). A module
	// declaring a larger maximum is refused; one declaring none gets this cap.
	// 0: DefaultPluginPages, never more than EngineConfig.MaxMemoryPages.
	MaxMemoryPages uint32
	// Config is handed to mw_init, through the message buffer.
	Config []byte
	// MsgBufSize is the len passed to mw_msgbuf: the largest config, control
	// message, control reply or saved state. 0: DefaultMsgBufSize.
	MsgBufSize int
	// WindowSize is the bytes passed to mw_window. Its tail holds MaxBurst
	// packet slots of Headroom+MaxFrame bytes (copy placement, linearised
	// chains); the page-aligned rest is where a buffer region can be mapped
	// for zero-copy. 0: DefaultWindowSize.
	WindowSize int
	// MaxFrame is the largest packet copied whole into a slot; longer packets
	// are truncated and flagged. 0: DefaultMaxFrame. At most abi.MaxPacket.
	MaxFrame int
	// Headroom is the room before each copied packet the guest may grow into.
	// 0: DefaultHeadroom; negative: none.
	Headroom int
	// Snaplen, when positive, copies at most this many bytes of each packet (copy placement only).
	Snaplen int
	// MaxBurst is the largest burst this plugin sees; longer bursts are
	// handed over in several calls. 0: abi.MaxBurst, or DefaultWASIMaxBurst
	// for a module that imports WASI.
	MaxBurst int
	// Redirect lists the ports a REDIRECT verdict may name; any other target
	// makes the packet ABORTED.
	Redirect []uint16
	// FailOpen passes a burst on when the plugin faults; the default drops it.
	FailOpen bool
	// Fuel is the budget of one mw_process call: the module is rewritten at
	// load (host/internal/fuel) and a call that spends more (about one unit
	// per instruction, one per byte of bulk memory work) traps as a fault.
	// 0: the tenant's budget, else DefaultFuel.
	Fuel int64
	// ColdFuel is the budget of the start function, _initialize, mw_init,
	// mw_control and the state hooks. 0: the tenant's, else DefaultColdFuel.
	ColdFuel int64
	// Stack is the call stack one guest call may take, in bytes as the
	// rewriter estimates frames (see DefaultStack): deeper recursion traps
	// as a fault (FaultStack). It applies to every call, the start function
	// included. 0: the tenant's, else DefaultStack; at most 2^31-1.
	Stack int64
	// Unmetered loads the module as it is, without fuel. Only for trusted
	// code and benchmarks: a guest that never returns then blocks its worker
	// and, since compiled wasm cannot be preempted, the garbage collector of
	// the whole process.
	Unmetered bool
	// MaxInstances bounds the live instances of the module. 0: DefaultMaxInstances.
	MaxInstances int
	// QuarantineFaults faults (of any reason, restart failures included)
	// within QuarantineWindow quarantine the plugin: it is no longer
	// restarted and its bursts get the fail policy until Replace or
	// Pipeline.Unquarantine. 0: DefaultQuarantineFaults and DefaultQuarantineWindow.
	QuarantineFaults int
	QuarantineWindow time.Duration
	// TableScope is the middle part of the key of the plugin's tables
	// (tenant, scope, name): plugins of one tenant that declare a table of
	// the same name in the same scope share it, and a reloaded plugin gets
	// its tables back. The daemon uses the interface name.
	TableScope string
	// FreshTables replaces a table that exists with another shape by a new,
	// empty one; without it such a declaration is refused (AdmitTables).
	FreshTables bool
	// Tenant, when set, owns the plugin: its budgets are the defaults, its
	// limits bound the plugin's instances and memory, and Redirect must name
	// only ports on its allow-list (nil Redirect: the tenant's whole list).
	Tenant *Tenant
}

func (c *PluginConfig) normalize(engineMax uint32) error {
	if c.MaxMemoryPages == 0 {
		c.MaxMemoryPages = min(DefaultPluginPages, engineMax)
		if t := c.Tenant; t != nil && t.cfg.MaxMemoryPages > 0 {
			c.MaxMemoryPages = uint32(min(uint64(c.MaxMemoryPages), t.cfg.MaxMemoryPages))
		}
	}
	if t := c.Tenant; t != nil && t.cfg.MaxMemoryPages > 0 && uint64(c.MaxMemoryPages) > t.cfg.MaxMemoryPages {
		return fmt.Errorf("%w of %d pages exceeds tenant %q's %d", errMemoryCap, c.MaxMemoryPages, t.cfg.Name, t.cfg.MaxMemoryPages)
	}
	if c.MaxMemoryPages > engineMax {
		return fmt.Errorf("%w of %d pages exceeds the engine's %d", errMemoryCap, c.MaxMemoryPages, engineMax)
	}
	if c.MsgBufSize <= 0 {
		c.MsgBufSize = DefaultMsgBufSize
	}
	if c.WindowSize <= 0 {
		c.WindowSize = DefaultWindowSize
	}
	if c.MaxFrame <= 0 {
		c.MaxFrame = DefaultMaxFrame
	}
	if c.MaxFrame > abi.MaxPacket {
		return fmt.Errorf("max frame %d exceeds %d", c.MaxFrame, abi.MaxPacket)
	}
	switch {
	case c.Headroom == 0:
		c.Headroom = DefaultHeadroom
	case c.Headroom < 0:
		c.Headroom = 0
	case c.Headroom > 4096:
		return fmt.Errorf("headroom %d exceeds 4096", c.Headroom)
	}
	if c.MaxBurst <= 0 || c.MaxBurst > abi.MaxBurst {
		c.MaxBurst = abi.MaxBurst
	}
	if c.Fuel < 0 || c.ColdFuel < 0 {
		return fmt.Errorf("fuel budgets must not be negative")
	}
	if c.Stack < 0 || c.Stack > MaxStack {
		return fmt.Errorf("stack budget %d outside 0..%d", c.Stack, MaxStack)
	}
	if t := c.Tenant; t != nil {
		if c.Fuel == 0 {
			c.Fuel = t.cfg.Fuel
		}
		if c.ColdFuel == 0 {
			c.ColdFuel = t.cfg.ColdFuel
		}
		if c.Stack == 0 {
			c.Stack = t.cfg.Stack
		}
		if c.Redirect == nil {
			c.Redirect = t.cfg.Ports
		}
		for _, p := range c.Redirect {
			if !t.allowsPort(p) {
				return fmt.Errorf("redirect port %d is not on tenant %q's allow-list", p, t.cfg.Name)
			}
		}
	}
	if c.Fuel == 0 {
		c.Fuel = DefaultFuel
	}
	if c.ColdFuel == 0 {
		c.ColdFuel = DefaultColdFuel
	}
	if c.Stack == 0 {
		c.Stack = DefaultStack
	}
	if c.Fuel > MaxFuel || c.ColdFuel > MaxFuel {
		return fmt.Errorf("fuel budgets above %d risk overflowing the fuel counter", int64(MaxFuel))
	}
	if c.MaxInstances <= 0 {
		c.MaxInstances = DefaultMaxInstances
	}
	if c.QuarantineFaults <= 0 {
		c.QuarantineFaults = DefaultQuarantineFaults
	}
	if c.QuarantineWindow <= 0 {
		c.QuarantineWindow = DefaultQuarantineWindow
	}
	if c.Snaplen < 0 {
		c.Snaplen = 0
	}
	if len(c.Config) > c.MsgBufSize {
		return fmt.Errorf("config of %d bytes exceeds the message buffer of %d", len(c.Config), c.MsgBufSize)
	}
	if c.WindowSize%abi.WindowAlign != 0 {
		c.WindowSize += abi.WindowAlign - c.WindowSize%abi.WindowAlign
	}
	if slots := c.slotArea(); slots > c.WindowSize {
		return fmt.Errorf("window of %d bytes cannot hold %d slots of %d bytes", c.WindowSize, c.MaxBurst, c.slotSize())
	}
	if uint64(c.WindowSize)+uint64(c.MsgBufSize)+uint64(abi.BatchSize(c.MaxBurst)) > uint64(c.MaxMemoryPages)*65536 {
		return fmt.Errorf("window, message buffer and batch area do not fit in %d pages", c.MaxMemoryPages)
	}
	return nil
}

// errMemoryCap marks config errors about the memory cap (AdmitMemory).
var errMemoryCap = errors.New("memory cap")

// MaxFuel is the largest fuel budget: a budget plus the largest single
// charge stays inside an i64.
const MaxFuel = 1 << 62

// MaxStack is the largest stack budget: the rewritten module keeps it in an
// i32 global.
const MaxStack = math.MaxInt32

// slotSize is one copy slot: headroom plus a frame, rounded to 64 bytes so
// every packet starts cache-line aligned after the headroom.
func (c *PluginConfig) slotSize() int { return (c.Headroom + c.MaxFrame + 63) &^ 63 }

// slotArea is the page-rounded size of all slots at the window's tail.
func (c *PluginConfig) slotArea() int {
	n := c.MaxBurst * c.slotSize()
	return (n + abi.WindowAlign - 1) &^ (abi.WindowAlign - 1)
}

// mapArea is the part of the window a buffer region may be mapped over.
func (c *PluginConfig) mapArea() int { return c.WindowSize - c.slotArea() }
