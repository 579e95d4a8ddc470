// Package pcapng writes packet captures in the pcapng format (the IETF
// draft "PCAP Next Generation Dump File Format", as Wireshark, tshark and
// dpdk-dumpcap read and write it): one section, one interface description
// per captured interface and direction, and an enhanced packet block per
// packet with its direction and a comment.
//
// It writes little-endian blocks (a reader learns the byte order from the
// section header) with nanosecond timestamps, and only the options memif-wasm
// needs: the application's name, interface names, timestamp resolution,
// packet comments and direction flags.
package pcapng

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Block types and option codes used.
const (
	blockSHB = 0x0A0D0D0A
	blockIDB = 0x00000001
	blockEPB = 0x00000006

	byteOrderMagic = 0x1A2B3C4D

	optEnd      = 0
	optComment  = 1
	shbUserAppl = 4
	ifName      = 2
	ifTsresol   = 9
	epbFlags    = 2
)

// LinkTypeEthernet is the link type of Ethernet frames (LINKTYPE_ETHERNET).
const LinkTypeEthernet = 1

// Direction is an enhanced packet block's direction flag.
type Direction uint32

const (
	DirUnknown  Direction = 0
	DirInbound  Direction = 1
	DirOutbound Direction = 2
)

// MaxSnaplen bounds an interface's snaplen and a packet's captured bytes:
// Wireshark refuses larger packets outright.
const MaxSnaplen = 262144

// Errors of Writer.
var (
	ErrNoInterface = errors.New("pcapng: no such interface")
	ErrTooLong     = errors.New("pcapng: packet longer than the interface's snaplen")
)

// Writer writes one pcapng section to an io.Writer. It is not safe for
// concurrent use.
type Writer struct {
	w        io.Writer
	snaplens []uint32
	buf      []byte
}

// NewWriter writes the section header, naming app as the writing
// application, and returns a Writer for its interfaces and packets.
func NewWriter(w io.Writer, app string) (*Writer, error) {
	pw := &Writer{w: w}
	b := pw.start(blockSHB)
	b = binary.LittleEndian.AppendUint32(b, byteOrderMagic)
	b = binary.LittleEndian.AppendUint16(b, 1) // major version
	b = binary.LittleEndian.AppendUint16(b, 0) // minor version
	b = binary.LittleEndian.AppendUint64(b, ^uint64(0))
	if app != "" {
		b = option(b, shbUserAppl, []byte(app))
	}
	b = option(b, optEnd, nil)
	return pw, pw.finish(b)
}

// AddInterface describes an interface, named name, capturing frames of
// linkType up to snaplen bytes (1 to MaxSnaplen), with nanosecond
// timestamps. It returns the interface's id for WritePacket.
func (w *Writer) AddInterface(name string, linkType uint16, snaplen int) (int, error) {
	if snaplen < 1 || snaplen > MaxSnaplen {
		return 0, fmt.Errorf("pcapng: interface %q: snaplen %d, want 1 to %d", name, snaplen, MaxSnaplen)
	}
	b := w.start(blockIDB)
	b = binary.LittleEndian.AppendUint16(b, linkType)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(snaplen))
	if name != "" {
		b = option(b, ifName, []byte(name))
	}
	b = option(b, ifTsresol, []byte{9}) // 10^-9 s
	b = option(b, optEnd, nil)
	if err := w.finish(b); err != nil {
		return 0, err
	}
	w.snaplens = append(w.snaplens, uint32(snaplen))
	return len(w.snaplens) - 1, nil
}

// WritePacket writes one packet seen on interface iface at t: data are the
// bytes captured (at most the interface's snaplen), origLen the packet's
// whole length, comment (may be empty) and dir are shown with it.
func (w *Writer) WritePacket(iface int, t time.Time, data []byte, origLen int, comment string, dir Direction) error {
	if iface < 0 || iface >= len(w.snaplens) {
		return fmt.Errorf("%w: %d of %d", ErrNoInterface, iface, len(w.snaplens))
	}
	if len(data) > int(w.snaplens[iface]) {
		return fmt.Errorf("%w: %d bytes, snaplen %d", ErrTooLong, len(data), w.snaplens[iface])
	}
	origLen = max(origLen, len(data))
	ts := uint64(t.UnixNano())
	b := w.start(blockEPB)
	b = binary.LittleEndian.AppendUint32(b, uint32(iface))
	b = binary.LittleEndian.AppendUint32(b, uint32(ts>>32))
	b = binary.LittleEndian.AppendUint32(b, uint32(ts))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = binary.LittleEndian.AppendUint32(b, uint32(min(origLen, 1<<32-1)))
	b = append(b, data...)
	b = pad(b)
	if comment != "" {
		b = option(b, optComment, []byte(comment))
	}
	if dir != DirUnknown {
		b = option(b, epbFlags, binary.LittleEndian.AppendUint32(nil, uint32(dir)))
	}
	b = option(b, optEnd, nil)
	return w.finish(b)
}

// start begins a block in w's buffer: type and a length filled in by finish.
func (w *Writer) start(typ uint32) []byte {
	b := binary.LittleEndian.AppendUint32(w.buf[:0], typ)
	return binary.LittleEndian.AppendUint32(b, 0)
}

// finish sets the block's length at both ends and writes it.
func (w *Writer) finish(b []byte) error {
	n := uint32(len(b) + 4)
	binary.LittleEndian.PutUint32(b[4:8], n)
	b = binary.LittleEndian.AppendUint32(b, n)
	w.buf = b[:0]
	_, err := w.w.Write(b)
	return err
}

// option appends an option: code, length, value padded to 32 bits. Values
// longer than an option can say are cut at 65532 bytes.
func option(b []byte, code uint16, v []byte) []byte {
	v = v[:min(len(v), 65532)]
	b = binary.LittleEndian.AppendUint16(b, code)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	return pad(append(b, v...))
}

func pad(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}
