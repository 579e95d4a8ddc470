package sdk

// Local byte-order helpers with encoding/binary's method names. Importing
// encoding/binary would link package reflect into every plugin.

type bigEndian struct{}

func (bigEndian) Uint16(b []byte) uint16 { _ = b[1]; return uint16(b[1]) | uint16(b[0])<<8 }

func (bigEndian) Uint32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[3]) | uint32(b[2])<<8 | uint32(b[1])<<16 | uint32(b[0])<<24
}

func (bigEndian) PutUint16(b []byte, v uint16) { _ = b[1]; b[0], b[1] = byte(v>>8), byte(v) }

type littleEndian struct{}

func (littleEndian) Uint16(b []byte) uint16 { _ = b[1]; return uint16(b[0]) | uint16(b[1])<<8 }

func (littleEndian) Uint32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func (littleEndian) Uint64(b []byte) uint64 {
	_ = b[7]
	return uint64(littleEndian{}.Uint32(b)) | uint64(littleEndian{}.Uint32(b[4:]))<<32
}

func (littleEndian) PutUint16(b []byte, v uint16) { _ = b[1]; b[0], b[1] = byte(v), byte(v>>8) }

func (littleEndian) PutUint32(b []byte, v uint32) {
	_ = b[3]
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func (littleEndian) PutUint64(b []byte, v uint64) {
	littleEndian{}.PutUint32(b, uint32(v))
	littleEndian{}.PutUint32(b[4:], uint32(v>>32))
}
