//! `bit`: LuaBitOp 1.0.2 as Redis embeds it. Every operation works on 32-bit integers:
//! arguments are normalised the way LuaBitOp does it (adding 2^52+2^51 to the double and
//! keeping the low 32 bits of its representation, which rounds to nearest and wraps modulo
//! 2^32), results are returned as signed 32-bit numbers.
//!
//! Functions: `tobit`, `tohex`, `bnot`, `band`, `bor`, `bxor`, `lshift`, `rshift`, `arshift`,
//! `rol`, `ror`, `bswap`. A non-number argument fails with
//! "bad argument #N to 'name' (number expected, got TYPE)".

use mlua::{Lua, Table, Value};

use super::{Args, LibResult, Wrap};

/// `barg`: argument `n` normalised to 32 bits.
fn barg(args: &Args, n: usize) -> LibResult<u32> {
    let num = args.to_number(n);
    let b = (num.unwrap_or(0.0) + 6_755_399_441_055_744.0).to_bits() as u32;
    if b == 0 && num.is_none() {
        return Err(args.type_error(n, "number"));
    }
    Ok(b)
}

/// `BRET`: the signed 32-bit result as a Lua number.
fn bret(b: u32) -> Value {
    Value::Number(f64::from(b as i32))
}

/// `tohex(x [, n])`: `n` hex digits (default 8, negative for upper case, at most 8).
fn tohex(lua: &Lua, args: &Args) -> LibResult<Value> {
    let mut b = barg(args, 1)?;
    let mut n: i32 = if args.get(2).is_none() { 8 } else { barg(args, 2)? as i32 };
    let digits: &[u8; 16] = if n < 0 {
        n = n.checked_neg().unwrap_or(i32::MAX);
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let n = n.min(8) as usize;
    let mut buf = vec![0u8; n];
    for slot in buf.iter_mut().rev() {
        *slot = digits.get((b & 15) as usize).copied().unwrap_or(b'0');
        b >>= 4;
    }
    Ok(Value::String(lua.create_string(buf)?))
}

/// A variadic fold (`band`, `bor`, `bxor`): arguments are read from the last to the second,
/// as LuaBitOp does, so the reported bad argument is the last bad one.
fn fold(args: &Args, op: fn(u32, u32) -> u32) -> LibResult<Value> {
    let mut b = barg(args, 1)?;
    for i in (2..=args.len()).rev() {
        b = op(b, barg(args, i)?);
    }
    Ok(bret(b))
}

/// A shift or rotation by the second argument modulo 32.
fn shift(args: &Args, op: fn(u32, u32) -> u32) -> LibResult<Value> {
    let b = barg(args, 1)?;
    let n = barg(args, 2)? & 31;
    Ok(bret(op(b, n)))
}

/// The `bit` module table.
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let w = Wrap::new(lua)?;
    let t = lua.create_table()?;
    t.raw_set("tobit", w.one(lua, "tobit", |_, a| Ok(bret(barg(&a, 1)?)))?)?;
    t.raw_set("bnot", w.one(lua, "bnot", |_, a| Ok(bret(!barg(&a, 1)?)))?)?;
    t.raw_set("bswap", w.one(lua, "bswap", |_, a| Ok(bret(barg(&a, 1)?.swap_bytes())))?)?;
    t.raw_set("band", w.one(lua, "band", |_, a| fold(&a, |x, y| x & y))?)?;
    t.raw_set("bor", w.one(lua, "bor", |_, a| fold(&a, |x, y| x | y))?)?;
    t.raw_set("bxor", w.one(lua, "bxor", |_, a| fold(&a, |x, y| x ^ y))?)?;
    t.raw_set("lshift", w.one(lua, "lshift", |_, a| shift(&a, |b, n| b << n))?)?;
    t.raw_set("rshift", w.one(lua, "rshift", |_, a| shift(&a, |b, n| b >> n))?)?;
    t.raw_set("arshift", w.one(lua, "arshift", |_, a| shift(&a, |b, n| ((b as i32) >> n) as u32))?)?;
    t.raw_set("rol", w.one(lua, "rol", |_, a| shift(&a, |b, n| b.rotate_left(n)))?)?;
    t.raw_set("ror", w.one(lua, "ror", |_, a| shift(&a, |b, n| b.rotate_right(n)))?)?;
    t.raw_set("tohex", w.one(lua, "tohex", |lua, a| tohex(lua, &a))?)?;
    Ok(t)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{run};

    #[test]
    fn tobit_wraps_and_rounds_like_luabitop() {
        assert_eq!(run("return bit.tobit(0xffffffff)").unwrap(), "-1");
        assert_eq!(run("return bit.tobit(2^32 + 5)").unwrap(), "5");
        assert_eq!(run("return bit.tobit(1.5)").unwrap(), "2");
        assert_eq!(run("return bit.tobit(2.5)").unwrap(), "2");
        assert_eq!(run("return bit.tobit('10')").unwrap(), "10");
    }

    #[test]
    fn logical_operations_are_variadic() {
        assert_eq!(run("return bit.band(0xff, 0x0f, 0x3)").unwrap(), "3");
        assert_eq!(run("return bit.bor(1, 2, 4)").unwrap(), "7");
        assert_eq!(run("return bit.bxor(5, 1)").unwrap(), "4");
        assert_eq!(run("return bit.bnot(0)").unwrap(), "-1");
    }

    #[test]
    fn shifts_and_rotations_take_the_count_modulo_32() {
        assert_eq!(run("return bit.lshift(1, 31)").unwrap(), "-2147483648");
        assert_eq!(run("return bit.lshift(1, 33)").unwrap(), "2");
        assert_eq!(run("return bit.rshift(-1, 28)").unwrap(), "15");
        assert_eq!(run("return bit.arshift(-256, 4)").unwrap(), "-16");
        assert_eq!(run("return bit.rol(0x12345678, 8)").unwrap(), "878082066");
        assert_eq!(run("return bit.ror(0x12345678, 8)").unwrap(), "2014458966");
        assert_eq!(run("return bit.bswap(0x12345678)").unwrap(), "2018915346");
    }

    #[test]
    fn tohex_pads_truncates_and_upper_cases() {
        assert_eq!(run("return bit.tohex(255)").unwrap(), "000000ff");
        assert_eq!(run("return bit.tohex(255, 2)").unwrap(), "ff");
        assert_eq!(run("return bit.tohex(255, -4)").unwrap(), "00FF");
        assert_eq!(run("return bit.tohex(-1, 12)").unwrap(), "ffffffff");
    }

    #[test]
    fn a_non_number_is_a_bad_argument() {
        // A tail call keeps the caller's frame (the function is a C function, as in Redis).
        assert_eq!(
            run("return bit.tobit('x')").unwrap_err(),
            "user_script:1: bad argument #1 to 'tobit' (number expected, got string)"
        );
        assert_eq!(
            run("local r = bit.band(1, 2, {}) return r").unwrap_err(),
            "user_script:1: bad argument #3 to 'band' (number expected, got table)"
        );
        assert_eq!(
            run("local f = bit.tobit local r = f({}) return r").unwrap_err(),
            "user_script:1: bad argument #1 to 'f' (number expected, got table)"
        );
        assert_eq!(
            run("local ok, e = pcall(bit.tobit, 'x') return e").unwrap(),
            "bad argument #1 to '?' (number expected, got string)"
        );
        assert_eq!(
            run("local r = bit.tobit() return r").unwrap_err(),
            "user_script:1: bad argument #1 to 'tobit' (number expected, got no value)"
        );
    }
}
