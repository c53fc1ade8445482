//! LEB128 lengths (7 bits per byte, high bit = more follows) for the packed forms of lists and
//! hashes.

/// Appends `n` as a varint.
pub(super) fn write_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads a varint at `pos`; returns (value, bytes used), or `None` if it is cut short or too long.
pub(super) fn read_varint(data: &[u8], pos: usize) -> Option<(usize, usize)> {
    let mut value = 0usize;
    let mut shift = 0;
    let mut used = 0;
    loop {
        let byte = *data.get(pos + used)?;
        used += 1;
        value |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some((value, used));
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}
