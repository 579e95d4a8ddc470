package proto

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Protocol constants (memif 2.0).
const (
	Size        = 128    // every control message is exactly this long
	Version     = 0x0200 // major 2, minor 0
	NameSize    = 32
	SecretSize  = 24
	ReasonSize  = 96
	RingFlagS2M = 1 // ADD_RING flags bit 0: slave-to-master ring
)

// Type is the message type at offset 0.
type Type uint16

// Message types.
const (
	TypeNone Type = iota
	TypeAck
	TypeHello
	TypeInit
	TypeAddRegion
	TypeAddRing
	TypeConnect
	TypeConnected
	TypeDisconnect
)

var typeNames = [...]string{"NONE", "ACK", "HELLO", "INIT", "ADD_REGION", "ADD_RING", "CONNECT", "CONNECTED", "DISCONNECT"}

// String returns the type's name in memif.h without the MEMIF_MSG_TYPE_ prefix.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", uint16(t))
}

// CarriesFD reports whether a message of type t must carry exactly one
// file descriptor (all others must carry none).
func (t Type) CarriesFD() bool { return t == TypeAddRegion || t == TypeAddRing }

// Decoding errors.
var (
	ErrSize    = errors.New("control message is not 128 bytes")
	ErrUnknown = errors.New("unknown control message type")
)

// Message is one decoded control message.
type Message interface {
	Type() Type
	encode(b *[Size]byte)
}

// Ack acknowledges INIT, ADD_REGION and ADD_RING.
type Ack struct{}

// Hello is the master's greeting: its name and limits. The Max*Ring and
// MaxRegion fields are highest indexes, not counts.
type Hello struct {
	Name            string
	MinVersion      uint16
	MaxVersion      uint16
	MaxRegion       uint16
	MaxM2SRing      uint16
	MaxS2MRing      uint16
	MaxLog2RingSize uint8
}

// Init is the slave's request for interface ID.
type Init struct {
	Version uint16
	ID      uint32
	Mode    uint8
	Secret  string
	Name    string
}

// AddRegion announces shared-memory region Index of Size bytes (fd attached).
type AddRegion struct {
	Index uint16
	Size  uint64
}

// AddRing announces one ring (eventfd attached).
type AddRing struct {
	Flags          uint16
	Index          uint16
	Region         uint16
	Offset         uint32
	Log2RingSize   uint8
	PrivateHdrSize uint16
}

// Connect carries the slave's interface name.
type Connect struct{ Name string }

// Connected carries the master's interface name.
type Connected struct{ Name string }

// Disconnect ends the connection with a code and reason.
type Disconnect struct {
	Code   uint32
	Reason string
}

// Type implements Message.
func (Ack) Type() Type        { return TypeAck }
func (Hello) Type() Type      { return TypeHello }
func (Init) Type() Type       { return TypeInit }
func (AddRegion) Type() Type  { return TypeAddRegion }
func (AddRing) Type() Type    { return TypeAddRing }
func (Connect) Type() Type    { return TypeConnect }
func (Connected) Type() Type  { return TypeConnected }
func (Disconnect) Type() Type { return TypeDisconnect }

var le = binary.LittleEndian

// putString writes s NUL-padded into b, truncating so that at least one
// NUL terminates it, as strlcpy does on the C side.
func putString(b []byte, s string) {
	n := copy(b[:len(b)-1], s)
	clear(b[n:])
}

// putSecret writes the secret without a terminator: all 24 bytes count.
func putSecret(b []byte, s string) {
	n := copy(b, s)
	clear(b[n:])
}

// getString reads a NUL-padded string.
func getString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

func (Ack) encode(b *[Size]byte) {}

func (m Hello) encode(b *[Size]byte) {
	putString(b[2:34], m.Name)
	le.PutUint16(b[34:], m.MinVersion)
	le.PutUint16(b[36:], m.MaxVersion)
	le.PutUint16(b[38:], m.MaxRegion)
	le.PutUint16(b[40:], m.MaxM2SRing)
	le.PutUint16(b[42:], m.MaxS2MRing)
	b[44] = m.MaxLog2RingSize
}

func (m Init) encode(b *[Size]byte) {
	le.PutUint16(b[2:], m.Version)
	le.PutUint32(b[4:], m.ID)
	b[8] = m.Mode
	putSecret(b[9:33], m.Secret)
	putString(b[33:65], m.Name)
}

func (m AddRegion) encode(b *[Size]byte) {
	le.PutUint16(b[2:], m.Index)
	le.PutUint64(b[4:], m.Size)
}

func (m AddRing) encode(b *[Size]byte) {
	le.PutUint16(b[2:], m.Flags)
	le.PutUint16(b[4:], m.Index)
	le.PutUint16(b[6:], m.Region)
	le.PutUint32(b[8:], m.Offset)
	b[12] = m.Log2RingSize
	le.PutUint16(b[13:], m.PrivateHdrSize)
}

func (m Connect) encode(b *[Size]byte)   { putString(b[2:34], m.Name) }
func (m Connected) encode(b *[Size]byte) { putString(b[2:34], m.Name) }

func (m Disconnect) encode(b *[Size]byte) {
	le.PutUint32(b[2:], m.Code)
	putString(b[6:102], m.Reason)
}

// Encode writes m into b: type, payload, zero padding.
func Encode(b *[Size]byte, m Message) {
	clear(b[:])
	le.PutUint16(b[0:], uint16(m.Type()))
	m.encode(b)
}

// Decode parses one control message. It never panics and never reads
// outside b; the only checks are size and type, because field values are
// judged by the state machine that knows the context.
func Decode(b []byte) (Message, error) {
	if len(b) != Size {
		return nil, ErrSize
	}
	switch Type(le.Uint16(b)) {
	case TypeAck:
		return Ack{}, nil
	case TypeHello:
		return Hello{
			Name:            getString(b[2:34]),
			MinVersion:      le.Uint16(b[34:]),
			MaxVersion:      le.Uint16(b[36:]),
			MaxRegion:       le.Uint16(b[38:]),
			MaxM2SRing:      le.Uint16(b[40:]),
			MaxS2MRing:      le.Uint16(b[42:]),
			MaxLog2RingSize: b[44],
		}, nil
	case TypeInit:
		return Init{
			Version: le.Uint16(b[2:]),
			ID:      le.Uint32(b[4:]),
			Mode:    b[8],
			Secret:  getString(b[9:33]),
			Name:    getString(b[33:65]),
		}, nil
	case TypeAddRegion:
		return AddRegion{Index: le.Uint16(b[2:]), Size: le.Uint64(b[4:])}, nil
	case TypeAddRing:
		return AddRing{
			Flags:          le.Uint16(b[2:]),
			Index:          le.Uint16(b[4:]),
			Region:         le.Uint16(b[6:]),
			Offset:         le.Uint32(b[8:]),
			Log2RingSize:   b[12],
			PrivateHdrSize: le.Uint16(b[13:]),
		}, nil
	case TypeConnect:
		return Connect{Name: getString(b[2:34])}, nil
	case TypeConnected:
		return Connected{Name: getString(b[2:34])}, nil
	case TypeDisconnect:
		return Disconnect{Code: le.Uint32(b[2:]), Reason: getString(b[6:102])}, nil
	default:
		return nil, ErrUnknown
	}
}
