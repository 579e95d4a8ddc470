//! Byte order helpers. Network headers are big-endian, the ABI's own structures
//! and the example configs little-endian. Each reads or writes the first bytes
//! of its slice and panics, like indexing, when the slice is too short: callers
//! check lengths once (the header views do) rather than per field.

#[inline]
pub fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

#[inline]
pub fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[inline]
pub fn put_be16(b: &mut [u8], v: u16) {
    b[..2].copy_from_slice(&v.to_be_bytes());
}

#[inline]
pub fn put_be32(b: &mut [u8], v: u32) {
    b[..4].copy_from_slice(&v.to_be_bytes());
}

#[inline]
pub fn le16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

#[inline]
pub fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

#[inline]
pub fn le64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

#[inline]
pub fn put_le16(b: &mut [u8], v: u16) {
    b[..2].copy_from_slice(&v.to_le_bytes());
}

#[inline]
pub fn put_le32(b: &mut [u8], v: u32) {
    b[..4].copy_from_slice(&v.to_le_bytes());
}

#[inline]
pub fn put_le64(b: &mut [u8], v: u64) {
    b[..8].copy_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut b = [0u8; 8];
        put_be16(&mut b, 0x1234);
        assert_eq!(b[..2], [0x12, 0x34]);
        assert_eq!(be16(&b), 0x1234);
        put_be32(&mut b, 0x0102_0304);
        assert_eq!(b[..4], [1, 2, 3, 4]);
        assert_eq!(be32(&b), 0x0102_0304);
        put_le16(&mut b, 0x1234);
        assert_eq!(b[..2], [0x34, 0x12]);
        assert_eq!(le16(&b), 0x1234);
        put_le32(&mut b, 0x0102_0304);
        assert_eq!(b[..4], [4, 3, 2, 1]);
        assert_eq!(le32(&b), 0x0102_0304);
        put_le64(&mut b, 0x0102_0304_0506_0708);
        assert_eq!(b, [8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(le64(&b), 0x0102_0304_0506_0708);
    }

    #[test]
    #[should_panic]
    fn short_slice_panics() {
        be32(&[1, 2, 3]);
    }
}
