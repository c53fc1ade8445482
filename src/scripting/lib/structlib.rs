//! `struct`: Roberto Ierusalimschy's struct library (v1.4, with Redis's hardening), which packs
//! Lua values into binary strings and back, as Redis embeds it on x86-64 (native little
//! endian, `int` 4 bytes, `long` and `size_t` 8 bytes, maximum alignment 8).
//!
//! `struct.pack(fmt, ...)`, `struct.unpack(fmt, data [, pos])` (values, then the next
//! position), `struct.size(fmt)`. Format options: `>` big endian, `<` little endian,
//! `![n]` alignment, `x` padding, `b/B` signed/unsigned byte, `h/H` short, `l/L` long,
//! `T` size_t, `i/I[n]` integer of n bytes (at most 32), `s` zero-terminated string,
//! `c[n]` n chars (`c0`: the whole string when packing, the previous number when unpacking),
//! `f` float, `d` double, space ignored. Errors use the library's texts: "integral size %d is
//! larger than limit of %d", "alignment %d is not a power of 2", "invalid format option
//! 'X'", "data string too short", "unfinished string in data", ...

use mlua::{Lua, Table, Value};

use super::{Args, LibError, LibResult, Wrap};

/// Largest integral size accepted by `i`/`I`.
const MAXINTSIZE: i64 = 32;
/// Default for `!` (alignment of a double on x86-64).
const MAXALIGN: i64 = 8;

/// Byte order and alignment state while walking a format.
struct Header {
    little: bool,
    align: i64,
}

impl Header {
    fn new() -> Self {
        Header { little: true, align: 1 }
    }
}

/// A cursor over the format string (which, like a C string, ends at the first NUL).
struct Fmt<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Fmt<'_> {
    fn next(&mut self) -> Option<u8> {
        let c = *self.bytes.get(self.pos)?;
        if c == 0 {
            return None;
        }
        self.pos += 1;
        Some(c)
    }

    fn peek_digit(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied().filter(u8::is_ascii_digit)
    }

    /// `getnum`: a decimal count after an option, or `default`.
    fn getnum(&mut self, default: i64) -> LibResult<i64> {
        if self.peek_digit().is_none() {
            return Ok(default);
        }
        let mut a: i64 = 0;
        while let Some(d) = self.peek_digit() {
            let d = i64::from(d - b'0');
            if a > i64::from(i32::MAX) / 10 || a * 10 > i64::from(i32::MAX) - d {
                return Err(LibError::msg("integral size overflow"));
            }
            a = a * 10 + d;
            self.pos += 1;
        }
        Ok(a)
    }
}

/// `optsize`: the size an option occupies (0 for control options).
fn optsize(opt: u8, fmt: &mut Fmt) -> LibResult<i64> {
    Ok(match opt {
        b'B' | b'b' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'x' => 1,
        b'c' => fmt.getnum(1)?,
        b'i' | b'I' => {
            let sz = fmt.getnum(4)?;
            if sz > MAXINTSIZE {
                return Err(LibError::msg(format!(
                    "integral size {sz} is larger than limit of {MAXINTSIZE}"
                )));
            }
            sz
        }
        _ => 0,
    })
}

/// `gettoalign`: padding needed before an item of `size` at offset `len`.
fn gettoalign(len: u64, h: &Header, opt: u8, size: i64) -> u64 {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align) as u64;
    size.wrapping_sub(len & size.wrapping_sub(1)) & size.wrapping_sub(1)
}

/// `controloptions`: endianness, alignment, spaces; anything else is an invalid option.
fn controloptions(opt: u8, fmt: &mut Fmt, h: &mut Header) -> LibResult<()> {
    match opt {
        b' ' => Ok(()),
        b'>' => {
            h.little = false;
            Ok(())
        }
        b'<' => {
            h.little = true;
            Ok(())
        }
        b'!' => {
            let a = fmt.getnum(MAXALIGN)?;
            if a <= 0 || a & (a - 1) != 0 {
                return Err(LibError::msg(format!("alignment {a} is not a power of 2")));
            }
            h.align = a;
            Ok(())
        }
        _ => {
            let mut text = b"invalid format option '".to_vec();
            text.push(opt);
            text.push(b'\'');
            Err(LibError::Arg(1, text))
        }
    }
}

/// `struct.pack(fmt, ...)`.
fn pack(lua: &Lua, args: &Args) -> LibResult<Value> {
    let fmt_bytes = args.check_bytes(1)?;
    let mut fmt = Fmt { bytes: &fmt_bytes, pos: 0 };
    let mut h = Header::new();
    let mut arg = 2usize;
    let mut out: Vec<u8> = Vec::new();
    while let Some(opt) = fmt.next() {
        let mut size = optsize(opt, &mut fmt)?;
        let toalign = gettoalign(out.len() as u64, &h, opt, size);
        out.resize(out.len() + toalign as usize, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = args.check_number(arg)?;
                arg += 1;
                let mut value: u64 = if n < 0.0 { n as i64 as u64 } else { n as u64 };
                let size = size as usize;
                let mut buf = vec![0u8; size];
                if h.little {
                    for b in buf.iter_mut() {
                        *b = (value & 0xff) as u8;
                        value = value.checked_shr(8).unwrap_or(0);
                    }
                } else {
                    for b in buf.iter_mut().rev() {
                        *b = (value & 0xff) as u8;
                        value = value.checked_shr(8).unwrap_or(0);
                    }
                }
                out.extend_from_slice(&buf);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = args.check_number(arg)? as f32;
                arg += 1;
                out.extend_from_slice(&if h.little { f.to_le_bytes() } else { f.to_be_bytes() });
            }
            b'd' => {
                let d = args.check_number(arg)?;
                arg += 1;
                out.extend_from_slice(&if h.little { d.to_le_bytes() } else { d.to_be_bytes() });
            }
            b'c' | b's' => {
                let s = args.check_bytes(arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len() as i64;
                }
                // The library checks after moving to the next argument, so it names that one.
                let taken = s
                    .get(..size as usize)
                    .ok_or_else(|| LibError::arg(arg as i64, "string too short"))?;
                out.extend_from_slice(taken);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => controloptions(opt, &mut fmt, &mut h)?,
        }
    }
    Ok(Value::String(lua.create_string(out)?))
}

/// Reads an integer of `size` bytes (`getinteger`), as a Lua number.
fn getinteger(buf: &[u8], little: bool, signed: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    let mut push = |b: u8| l = (l << 8) | u64::from(b);
    if little {
        buf.iter().take(size).rev().for_each(|&b| push(b));
    } else {
        buf.iter().take(size).for_each(|&b| push(b));
    }
    if !signed {
        return l as f64;
    }
    // x86 masks the shift count, which is what the C code gets for sizes 0 and > 8.
    let mask = u64::MAX << ((size as u64 * 8).wrapping_sub(1) & 63);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

/// `struct.unpack(fmt, data [, pos])`.
fn unpack(lua: &Lua, args: &Args) -> LibResult<Vec<Value>> {
    let fmt_bytes = args.check_bytes(1)?;
    let data = args.check_bytes(2)?;
    let ld = data.len() as u64;
    let start = args.opt_integer(3, 1)? as u64;
    if start == 0 {
        return Err(LibError::arg(3, "offset must be 1 or greater"));
    }
    let mut pos = start - 1;
    let mut fmt = Fmt { bytes: &fmt_bytes, pos: 0 };
    let mut h = Header::new();
    let mut out: Vec<Value> = Vec::new();
    let too_short = || LibError::arg(2, "data string too short");
    while let Some(opt) = fmt.next() {
        let mut size = optsize(opt, &mut fmt)? as u64;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size as i64));
        if !(size <= ld && pos <= ld - size) {
            return Err(too_short());
        }
        let at = data.get(pos as usize..).unwrap_or(&[]);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = getinteger(at, h.little, opt.is_ascii_lowercase(), size as usize);
                out.push(Value::Number(n));
            }
            b'x' => {}
            b'f' => {
                let mut b = [0u8; 4];
                b.iter_mut().zip(at).for_each(|(d, s)| *d = *s);
                let f = if h.little { f32::from_le_bytes(b) } else { f32::from_be_bytes(b) };
                out.push(Value::Number(f64::from(f)));
            }
            b'd' => {
                let mut b = [0u8; 8];
                b.iter_mut().zip(at).for_each(|(d, s)| *d = *s);
                let d = if h.little { f64::from_le_bytes(b) } else { f64::from_be_bytes(b) };
                out.push(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    let prev = match out.last() {
                        Some(Value::Number(n)) => Some(*n),
                        Some(Value::Integer(i)) => Some(*i as f64),
                        _ => None,
                    };
                    let Some(n) = prev else {
                        return Err(LibError::msg("format 'c0' needs a previous size"));
                    };
                    out.pop();
                    size = if n < 0.0 { n as i64 as u64 } else { n as u64 };
                    if !(size <= ld && pos <= ld - size) {
                        return Err(too_short());
                    }
                }
                let bytes = at.get(..size as usize).ok_or_else(too_short)?;
                out.push(Value::String(lua.create_string(bytes)?));
            }
            b's' => {
                let Some(end) = at.iter().position(|&b| b == 0) else {
                    return Err(LibError::msg("unfinished string in data"));
                };
                out.push(Value::String(lua.create_string(at.get(..end).unwrap_or(&[]))?));
                size = end as u64 + 1;
            }
            _ => controloptions(opt, &mut fmt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    out.push(Value::Number(pos.wrapping_add(1) as f64));
    Ok(out)
}

/// `struct.size(fmt)`.
fn size(args: &Args) -> LibResult<Value> {
    let fmt_bytes = args.check_bytes(1)?;
    let mut fmt = Fmt { bytes: &fmt_bytes, pos: 0 };
    let mut h = Header::new();
    let mut pos: u64 = 0;
    while let Some(opt) = fmt.next() {
        let size = optsize(opt, &mut fmt)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if opt == b's' {
            return Err(LibError::arg(1, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(LibError::arg(1, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            controloptions(opt, &mut fmt, &mut h)?;
        }
        pos = pos.wrapping_add(size as u64);
    }
    Ok(Value::Number(pos as f64))
}

/// The `struct` module table.
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let w = Wrap::new(lua)?;
    let t = lua.create_table()?;
    t.raw_set("pack", w.one(lua, "pack", |lua, a| pack(lua, &a))?)?;
    t.raw_set("unpack", w.many(lua, "unpack", |lua, a| unpack(lua, &a))?)?;
    t.raw_set("size", w.one(lua, "size", |_, a| size(&a))?)?;
    Ok(t)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{run, run_hex as hex};

    #[test]
    fn pack_writes_integers_in_the_requested_byte_order() {
        assert_eq!(hex("return struct.pack('>i2', 300)"), "012c");
        assert_eq!(hex("return struct.pack('<i2', 300)"), "2c01");
        assert_eq!(hex("return struct.pack('i3', 1)"), "010000");
        assert_eq!(hex("return struct.pack('i0', 1)"), "");
        assert_eq!(hex("return struct.pack('b', -1)"), "ff");
        assert_eq!(hex("return struct.pack('!4bi', 1, 2)"), "0100000002000000");
        assert_eq!(hex("return struct.pack('>d', 1.5)"), "3ff8000000000000");
        assert_eq!(hex("return struct.pack('sc0', 'ab', 'cd')"), "6162006364");
    }

    #[test]
    fn unpack_returns_values_then_the_next_position() {
        assert_eq!(run("local a, b = struct.unpack('<i2', struct.pack('<i2', -2)) return a .. ',' .. b").unwrap(), "-2,3");
        assert_eq!(run("local a, b = struct.unpack('bc0', '\\2abc') return a .. ',' .. b").unwrap(), "ab,4");
        assert_eq!(run("local a, b = struct.unpack('s', 'ab\\0c') return a .. ',' .. b").unwrap(), "ab,4");
        assert_eq!(run("local a = struct.unpack('>d', struct.pack('>d', 1.5)) return a").unwrap(), "1.5");
        assert_eq!(run("local a, b = struct.unpack('B', 'xy', 2) return a .. ',' .. b").unwrap(), "121,3");
    }

    #[test]
    fn size_adds_up_fixed_sizes_with_alignment() {
        assert_eq!(run("return struct.size('!4bi')").unwrap(), "8");
        assert_eq!(run("return struct.size('q')").unwrap(), "0");
        assert_eq!(run("return struct.size('>lhd')").unwrap(), "18");
    }

    #[test]
    fn errors_use_the_library_texts() {
        let cases = [
            ("struct.pack('i33', 1)", "integral size 33 is larger than limit of 32"),
            ("struct.pack('c99999999999', 'a')", "integral size overflow"),
            ("struct.pack('!3i', 1)", "alignment 3 is not a power of 2"),
            ("struct.pack('q', 1)", "bad argument #1 to 'pack' (invalid format option 'q')"),
            ("struct.size('s')", "bad argument #1 to 'size' (option 's' has no fixed size)"),
            ("struct.unpack('c0', 'abc')", "format 'c0' needs a previous size"),
            ("struct.pack('c5', 'ab')", "bad argument #3 to 'pack' (string too short)"),
            ("struct.unpack('i', 'ab')", "bad argument #2 to 'unpack' (data string too short)"),
            ("struct.unpack('s', 'ab')", "unfinished string in data"),
            ("struct.unpack('i', 'abcd', 0)", "bad argument #3 to 'unpack' (offset must be 1 or greater)"),
            ("struct.unpack('i', 'abcd', -3)", "bad argument #2 to 'unpack' (data string too short)"),
            ("struct.pack()", "bad argument #1 to 'pack' (string expected, got no value)"),
            ("struct.pack('i', 'x')", "bad argument #2 to 'pack' (number expected, got string)"),
        ];
        for (code, msg) in cases {
            assert_eq!(
                run(&format!("local r = {code} return r")).unwrap_err(),
                format!("user_script:1: {msg}"),
                "{code}"
            );
        }
    }
}
