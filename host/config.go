package host

import (
	"fmt"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/internal/fuel"
)

// Defaults of PluginConfig.
const (
	DefaultMsgBufSize = 64 << 10
	DefaultWindowSize = 16 << 20
	DefaultMaxFrame   = 9216
	DefaultHeadroom   = 128
)

// PluginConfig is how one plugin runs. The zero value is the default.
type PluginConfig struct {
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
	// MaxBurst is the largest burst this plugin sees. 0: abi.MaxBurst.
	MaxBurst int
	// Redirect lists the ports a REDIRECT verdict may name; any other target
	// makes the packet ABORTED.
	Redirect []uint16
	// FailOpen passes a burst on when the plugin faults; the default drops it.
	FailOpen bool
	// Fuel, when positive, meters the plugin: the module is rewritten at load
	// (host/internal/fuel) and each mw_process call may spend this much fuel
	// (about one unit per instruction) before it traps as a fault. Other
	// calls (init, control, state) get ColdFuel. 0: not metered, and a guest
	// that never returns blocks its worker and the GC.
	Fuel int64
	// ColdFuel is the budget of mw_init, mw_control and the state hooks when
	// Fuel is set. 0: fuel.DefaultInitialFuel.
	ColdFuel int64
}

func (c *PluginConfig) normalize(engineMax uint32) error {
	if c.MaxMemoryPages == 0 {
		c.MaxMemoryPages = min(DefaultPluginPages, engineMax)
	}
	if c.MaxMemoryPages > engineMax {
		return fmt.Errorf("memory cap %d pages exceeds the engine's %d", c.MaxMemoryPages, engineMax)
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
	if c.Fuel > 0 && c.ColdFuel == 0 {
		c.ColdFuel = fuel.DefaultInitialFuel
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
