package host

import (
	"encoding/binary"
	"fmt"

	"github.com/memif-wasm/memif-wasm/abi"
)

// How one packet of a burst was handed over.
const (
	kindZeroCopy uint8 = iota // in place in the mapped region
	kindCopy                  // copied whole; may be moved and resized
	kindFixed                 // linearised chain or truncated copy: rewrite only
	kindBad                   // the host could not place it
)

// burstState is the per-packet input the host remembers to validate output;
// fixed arrays so a burst allocates nothing.
type burstState struct {
	data [abi.MaxBurst]uint32
	len  [abi.MaxBurst]uint16
	cap  [abi.MaxBurst]uint16
	kind [abi.MaxBurst]uint8
}

var le = binary.LittleEndian

// runBurst hands the packets pkts[idx[i]] (len(idx) <= MaxBurst) to the guest
// with one mw_process call and applies the validated verdicts to the packets.
// A returned error is a fault: the packets' out fields are then undefined and
// the caller applies the fail policy.
func (in *Instance) runBurst(b *Burst, idx []uint16, now uint64, st *PluginStats) error {
	c := &in.mod.cfg
	mem := in.mem
	bs := &in.bs
	n := len(idx)
	placement := PlacementCopy
	if in.mapped {
		placement = PlacementZeroCopy
	}
	var copied uint64
	headroom := uint32(c.Headroom)
	slotSize := uint32(c.slotSize())
	// Locals, not fields: the loop runs per packet.
	mapped, mapRegion, mapSize, window := in.mapped, in.mapRegion, uint64(in.mapSize), in.window
	descs := mem[in.batch+abi.HeaderSize : in.batch+abi.HeaderSize+uint32(n)*abi.DescSize]
	pkts := b.Packets
	for i, pi := range idx {
		p := &pkts[pi]
		d := descs[i*abi.DescSize : i*abi.DescSize+abi.DescSize : i*abi.DescSize+abi.DescSize]
		var data, plen, pcap uint32
		var flags uint8
		kind := kindCopy
		bufLen := uint64(len(p.Buf))
		switch {
		case uint64(p.Off)+uint64(p.Len) > bufLen:
			kind = kindBad
			data = in.slots + uint32(i)*slotSize + uint32(c.Headroom)
		case mapped && p.Chain == nil && p.Region == mapRegion && p.Len <= abi.MaxPacket &&
			uint64(p.BufOffset)+bufLen <= mapSize:
			kind = kindZeroCopy
			data = window + p.BufOffset + p.Off
			plen = p.Len
			pcap = uint32(min(bufLen-uint64(p.Off), abi.MaxPacket))
			headroom = min(headroom, p.Off)
		default:
			data = in.slots + uint32(i)*slotSize + uint32(c.Headroom)
			total := uint64(p.Len)
			for _, s := range p.Chain {
				total += uint64(len(s))
			}
			want := min(total, uint64(c.MaxFrame))
			if c.Snaplen > 0 {
				want = min(want, uint64(c.Snaplen))
			}
			dst := mem[data : data+uint32(want)]
			k := copy(dst, p.Buf[p.Off:p.Off+p.Len])
			for _, s := range p.Chain {
				if k >= len(dst) {
					break
				}
				k += copy(dst[k:], s)
			}
			plen = uint32(want)
			copied += want
			if want < total {
				flags |= abi.FlagTruncated
			}
			if p.Chain != nil {
				flags |= abi.FlagChained
			}
			if flags != 0 {
				kind = kindFixed
				pcap = plen
			} else {
				pcap = uint32(min(bufLen-uint64(p.Off), uint64(c.MaxFrame)))
				headroom = min(headroom, p.Off)
			}
		}
		bs.kind[i], bs.data[i], bs.len[i], bs.cap[i] = kind, data, uint16(plen), uint16(pcap)
		// Two 8-byte stores per descriptor; the layout is pinned by abi's golden
		// tests and TestDescriptorWords. The verdict starts as ABORTED (0).
		le.PutUint64(d[0:], uint64(data)|uint64(plen)<<32|uint64(pcap)<<48)
		le.PutUint64(d[8:], uint64(byte(abi.Aborted))|uint64(flags)<<8|uint64(p.InPort)<<16|uint64(p.Meta)<<32)
	}
	h := mem[in.batch : in.batch+abi.HeaderSize : in.batch+abi.HeaderSize]
	le.PutUint32(h[abi.HdrVersion:], abi.Version)
	le.PutUint32(h[abi.HdrCount:], uint32(n))
	le.PutUint64(h[abi.HdrNowNanos:], now)
	le.PutUint32(h[abi.HdrIfIndex:], b.IfIndex)
	le.PutUint16(h[abi.HdrQueue:], b.Queue)
	var bflags uint16
	if in.mapped {
		bflags = abi.BatchFlagZeroCopy
	}
	le.PutUint16(h[abi.HdrFlags:], bflags)
	le.PutUint32(h[abi.HdrSnaplen:], uint32(c.Snaplen))
	le.PutUint32(h[abi.HdrHeadroom:], headroom)

	st.Bursts++
	st.Packets += uint64(n)
	st.PacketsPlaced[placement] += uint64(n)
	in.stack[0] = uint64(n)
	if in.fuel != nil {
		in.fuel.Set(uint64(c.Fuel))
	}
	in.reader.Enter()
	err := in.process.CallWithStack(in.ctx, in.stack)
	in.reader.Exit()
	if in.fuel != nil {
		left := int64(in.fuel.Get())
		st.FuelUsed += uint64(c.Fuel - max(left, 0))
		if err != nil && left < 0 {
			st.FuelExhausted++
		}
	}
	if err != nil {
		st.BytesCopied[placement] += copied
		return &GuestError{Module: in.mod.name, Op: abi.ExportProcess, Err: in.fuelErr(err)}
	}
	if r := int32(uint32(in.stack[0])); r < 0 {
		st.BytesCopied[placement] += copied
		return &GuestError{Module: in.mod.name, Op: abi.ExportProcess, Errno: r, Err: abi.Errno(-r)}
	}

	refused := 0
	for i, pi := range idx {
		p := &pkts[pi]
		d := descs[i*abi.DescSize : i*abi.DescSize+abi.DescSize : i*abi.DescSize+abi.DescSize]
		w0, w1 := le.Uint64(d[0:]), le.Uint64(d[8:])
		v := abi.Verdict(w1)
		outData, outLen := uint32(w0), uint32(uint16(w0>>32))
		inData, inLen := bs.data[i], uint32(bs.len[i])
		reason := checkOutput(bs.kind[i], v, outData, outLen, uint32(w1>>32), inData, inLen, uint32(bs.cap[i]), headroom, &in.mod.redirect)
		if reason == reasonOK && (v == abi.Pass || v == abi.TX || v == abi.Redirect) {
			switch bs.kind[i] {
			case kindFixed:
				copied += uint64(scatter(p, mem[inData:inData+inLen]))
			case kindCopy, kindZeroCopy:
				newOff := uint32(int64(p.Off) + int64(outData) - int64(inData))
				if bs.kind[i] == kindCopy {
					copied += uint64(copy(p.Buf[newOff:newOff+outLen], mem[outData:outData+outLen]))
				}
				p.Off, p.Len = newOff, outLen
			}
			if v == abi.Redirect {
				p.Port = uint16(w1 >> 32)
			}
		}
		if reason < NumReasons {
			st.Invalid[reason]++
			v = abi.Aborted
			if reason != ReasonInput { // ReasonInput is the caller's packet, not the guest's doing
				refused++
			}
		}
		p.Verdict = v
		st.Verdicts[v]++
	}
	st.BytesCopied[placement] += copied
	if refused > 0 {
		return &GuestError{Module: in.mod.name, Op: abi.ExportProcess,
			Err: fmt.Errorf("%w: %d of %d descriptors refused", ErrABIViolation, refused, n)}
	}
	return nil
}

// reasonOK is checkOutput's "no objection".
const reasonOK = NumReasons

// checkOutput validates what the guest wrote into one descriptor, given what
// the host wrote (inData, inLen, inCap, the burst's headroom) and how the
// packet was placed. It returns reasonOK or why the verdict becomes ABORTED.
// All arithmetic is 64-bit: a hostile guest may write any u32.
func checkOutput(kind uint8, v abi.Verdict, outData, outLen, target, inData, inLen, inCap, headroom uint32, allow *[1024]uint64) Reason {
	switch {
	case kind == kindBad:
		return ReasonInput
	case !v.Valid():
		return ReasonVerdict
	case v == abi.Aborted || v == abi.Drop:
		return reasonOK
	}
	if v == abi.Redirect && (target > 0xffff || allow[target/64]&(1<<(target%64)) == 0) {
		return ReasonRedirect
	}
	if kind == kindFixed {
		if outData != inData {
			return ReasonData
		}
		if outLen != inLen {
			return ReasonLen
		}
		return reasonOK
	}
	lo, hi := int64(inData)-int64(headroom), int64(inData)+int64(inCap)
	if int64(outData) < lo || int64(outData) > hi {
		return ReasonData
	}
	if int64(outData)+int64(outLen) > hi {
		return ReasonLen
	}
	return reasonOK
}

// scatter copies a linearised (or truncated) packet back over its segments.
func scatter(p *Packet, src []byte) int {
	k := copy(p.Buf[p.Off:p.Off+p.Len], src)
	for _, s := range p.Chain {
		if k >= len(src) {
			break
		}
		k += copy(s, src[k:])
	}
	return k
}
