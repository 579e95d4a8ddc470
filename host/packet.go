package host

import (
	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/internal/mmap"
)

// Packet is one received packet handed to the pipeline, independent of
// memif. The caller owns it; the pipeline writes the out fields.
type Packet struct {
	// Buf is the whole buffer holding the packet: headroom, data, tailroom.
	// A plugin may grow the packet into Buf's headroom and tailroom.
	Buf []byte
	// Off and Len locate the data: Buf[Off:Off+Len]. In: as received. Out:
	// as the plugins left it (data moved or resized), for TX/PASS/REDIRECT.
	Off, Len uint32
	// Chain holds the further segments of a packet that spanned several
	// buffers (data bytes only); nil for a single-buffer packet. Chained packets
	// are linearised into a slot, and a plugin may rewrite but not resize them.
	Chain [][]byte
	// Region and BufOffset say where Buf[0] lies in the memif buffer region, for
	// zero-copy placement.
	Region    uint16
	BufOffset uint32
	// Meta is the memif descriptor's metadata, shown to the guest.
	Meta uint32
	// InPort is the ingress port, shown to the guest.
	InPort uint16

	// Verdict is the outcome: PASS after the last plugin passed it, or the
	// verdict of the plugin that stopped it. Invalid verdicts become ABORTED.
	Verdict abi.Verdict
	// Port is the REDIRECT target (valid when Verdict is abi.Redirect).
	Port uint16
}

// Data returns the packet's bytes (the first segment of a chained packet).
func (p *Packet) Data() []byte {
	if uint64(p.Off)+uint64(p.Len) > uint64(len(p.Buf)) {
		return nil
	}
	return p.Buf[p.Off : p.Off+p.Len]
}

// Burst is one rx burst for a Pipeline. The caller owns it and reuses it.
type Burst struct {
	Packets []Packet
	IfIndex uint32 // ingress interface index, shown to the guest
	Queue   uint16 // ingress queue, shown to the guest
	// Observer, when set, sees each plugin call (see StageObserver).
	Observer StageObserver
}

// Placement is how packet bytes reach the guest.
type Placement uint8

const (
	// PlacementCopy copies packets into the guest's window and rewritten bytes back.
	PlacementCopy Placement = iota
	// PlacementZeroCopy maps the buffer region into the guest's window.
	PlacementZeroCopy
	numPlacements
)

func (p Placement) String() string {
	if p == PlacementZeroCopy {
		return "zero-copy"
	}
	return "copy"
}

// RegionFacts describe a memif buffer region, for ChoosePlacement.
type RegionFacts struct {
	Size       int   // bytes of the region
	FileOffset int64 // where the region starts in its file descriptor
	HoldsRings bool  // rings share the region with buffers (a guest must never see rings)
	// Unsealed: the peer can shrink the region's file (memif.Region.Sealed
	// is false). A fault on it in a guest's compiled code could not be
	// recovered, so such a region is never mapped into a guest.
	Unsealed bool
	// Tenant owns the interface the region belongs to. A pipeline of a
	// tenant maps only its own tenant's regions.
	Tenant *Tenant
}

// ChoosePlacement decides a connection's placement from its buffer region:
// zero-copy only when the region holds no rings, is sealed against
// shrinking, starts page-aligned in its file, and is non-empty. Whether it fits a plugin's window is checked when
// the region is mapped (MapWindow), which falls back to copy.
func ChoosePlacement(r RegionFacts) Placement {
	if r.HoldsRings || r.Unsealed || r.Size <= 0 || r.FileOffset < 0 || r.FileOffset%int64(mmap.PageSize) != 0 {
		return PlacementCopy
	}
	return PlacementZeroCopy
}
