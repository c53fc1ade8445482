//! Pure helpers for string values: `INCRBYFLOAT`'s arithmetic and `GETRANGE`'s index rules.
//!
//! # Why a software `long double`
//! Redis computes `INCRBYFLOAT` in C's `long double`, which on x86-64 Linux is the x87 80-bit
//! extended format (a 64-bit mantissa), reads numbers with `strtold` (correctly rounded) and
//! writes the result with `%.17Lf` before stripping trailing zeros. Doing the same arithmetic
//! in `f64` would give visibly different strings (`10.5 + 0.1` prints as
//! `10.59999999999999964` from an `f64`, `10.6` from Redis). [`LongDouble`] reproduces the
//! extended format exactly in software: correctly rounded parsing, round-to-nearest-even
//! addition, and exact decimal printing, so replies match Redis byte for byte.

use std::cmp::Ordering;

/// The exponent of the least significant mantissa bit of the smallest (subnormal) numbers.
const EXP_MIN: i64 = -16_445;
/// The exponent of the least significant mantissa bit of the largest finite numbers.
const EXP_MAX: i64 = 16_320;
/// Redis's `MAX_LONG_DOUBLE_CHARS`: `string2ld` rejects inputs this long or longer.
const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;
/// Fractional digits `%.17Lf` prints.
const FRACTION_DIGITS: u32 = 17;

/// Why `INCRBYFLOAT` could not produce a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncrFloatError {
    /// The stored value or the increment is not a number: `ERR value is not a valid float`.
    NotFloat,
    /// The sum is infinite or NaN: `ERR increment would produce NaN or Infinity`.
    NanOrInfinity,
}

/// What [`LongDouble::parse`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// A finite number.
    Finite(LongDouble),
    /// `inf`, `-infinity`, ...: valid input, but any sum with it is rejected.
    Infinite,
}

/// `INCRBYFLOAT`'s whole computation: `current + increment`, formatted as Redis stores it.
/// `current` is the stored string (or `"0"` for a missing key).
pub fn incr_by_float(current: &[u8], increment: &[u8]) -> Result<String, IncrFloatError> {
    let value = LongDouble::parse(current).ok_or(IncrFloatError::NotFloat)?;
    let incr = LongDouble::parse(increment).ok_or(IncrFloatError::NotFloat)?;
    match (value, incr) {
        (Parsed::Finite(a), Parsed::Finite(b)) => {
            a.checked_add(b).map(|sum| sum.to_human_string()).ok_or(IncrFloatError::NanOrInfinity)
        }
        _ => Err(IncrFloatError::NanOrInfinity),
    }
}

/// A finite x87 extended-precision number: `(-1)^negative * mantissa * 2^exponent`, with the
/// mantissa's top bit set unless the number is subnormal (then `exponent == EXP_MIN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongDouble {
    negative: bool,
    mantissa: u64,
    exponent: i64,
}

impl LongDouble {
    /// Zero.
    pub const ZERO: LongDouble = LongDouble { negative: false, mantissa: 0, exponent: 0 };

    /// Whether the number is zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// Reads a number as Redis's `string2ld` does (`strtold` on the whole string): decimal or
    /// `0x` hexadecimal, optional sign and exponent, `inf`/`infinity`; no surrounding spaces,
    /// no NaN, and numbers that overflow or underflow to zero are rejected (`None`). The whole
    /// input must be the number: an embedded NUL makes it invalid, as `string2ld` checks that
    /// `strtold` consumed every byte.
    pub fn parse(input: &[u8]) -> Option<Parsed> {
        if input.is_empty() || input.len() >= MAX_LONG_DOUBLE_CHARS || input.contains(&0) {
            return None;
        }
        let text = input;
        let (negative, body) = match text.split_first() {
            Some((b'-', rest)) => (true, rest),
            Some((b'+', rest)) => (false, rest),
            _ => (false, text),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(Parsed::Infinite);
        }
        let number = match body {
            [b'0', b'x' | b'X', hex @ ..] => parse_hex(hex)?,
            _ => parse_decimal(body)?,
        };
        Some(Parsed::Finite(LongDouble { negative, ..number }))
    }

    /// The correctly rounded sum, or `None` if it overflows.
    pub fn checked_add(self, other: LongDouble) -> Option<LongDouble> {
        if other.is_zero() {
            return Some(if self.is_zero() { LongDouble::ZERO } else { self });
        }
        if self.is_zero() {
            return Some(other);
        }
        let (big, small) = if self.exponent >= other.exponent { (self, other) } else { (other, self) };
        // Line both up with 62 guard bits; bits of `small` shifted out beyond those only
        // matter as a sticky bit, jammed into the lowest position.
        let gap = big.exponent - small.exponent;
        let a = u128::from(big.mantissa) << 62;
        let b = if gap <= 62 {
            u128::from(small.mantissa) << (62 - gap)
        } else if gap - 62 >= 64 {
            1
        } else {
            let drop = gap - 62;
            let kept = u128::from(small.mantissa) >> drop;
            let lost = u128::from(small.mantissa) & ((1u128 << drop) - 1);
            kept | u128::from(lost != 0)
        };
        let (negative, sum) = if big.negative == small.negative {
            (big.negative, a + b)
        } else if a >= b {
            (big.negative, a - b)
        } else {
            (small.negative, b - a)
        };
        if sum == 0 {
            return Some(LongDouble::ZERO);
        }
        round(negative, sum, big.exponent - 62, false)
    }

    /// The number as Redis's `ld2string(..., LD_STR_HUMAN)` writes it: `%.17Lf`, then trailing
    /// zeros (and a bare `.`) removed, and `-0` written `0`.
    pub fn to_human_string(&self) -> String {
        let mut out = String::new();
        if self.negative {
            out.push('-');
        }
        if self.exponent >= 0 {
            out.push_str(&Big::from_u64(self.mantissa).shl(self.exponent.unsigned_abs()).to_decimal());
        } else {
            // mantissa * 10^17 < 2^121: exact in u128; then divide by 2^-exponent, rounding
            // half to even as glibc's printf does.
            let scaled = u128::from(self.mantissa) * 10u128.pow(FRACTION_DIGITS);
            let shift = self.exponent.unsigned_abs();
            let fixed = if shift >= 128 {
                0
            } else {
                let quotient = scaled >> shift;
                let rest = scaled & ((1u128 << shift) - 1);
                let half = 1u128 << (shift - 1);
                let up = rest > half || (rest == half && quotient & 1 == 1);
                quotient + u128::from(up)
            };
            let unit = 10u128.pow(FRACTION_DIGITS);
            out.push_str(itoa::Buffer::new().format(fixed / unit));
            let fraction = format!("{:017}", fixed % unit);
            let fraction = fraction.trim_end_matches('0');
            if !fraction.is_empty() {
                out.push('.');
                out.push_str(fraction);
            }
        }
        if out == "-0" {
            out.remove(0);
        }
        out
    }
}

/// Rounds `(-1)^negative * sig * 2^exp` (plus a little more if `sticky`) to the nearest
/// extended-precision number, ties to even. `None` on overflow; zero on total underflow.
fn round(negative: bool, sig: u128, exp: i64, sticky: bool) -> Option<LongDouble> {
    if sig == 0 {
        return Some(LongDouble::ZERO);
    }
    let len = i64::from(128 - sig.leading_zeros());
    let mut shift = len - 64;
    if exp + shift < EXP_MIN {
        shift = EXP_MIN - exp;
    }
    let mut exponent = exp + shift;
    let mantissa = if shift <= 0 {
        sig << shift.unsigned_abs()
    } else if shift > len {
        0
    } else {
        let shift = shift.unsigned_abs();
        let kept = if shift >= 128 { 0 } else { sig >> shift };
        let rest = if shift >= 128 { sig } else { sig & ((1u128 << shift) - 1) };
        let half = 1u128 << (shift - 1);
        let up = match rest.cmp(&half) {
            Ordering::Greater => true,
            Ordering::Equal => sticky || kept & 1 == 1,
            Ordering::Less => false,
        };
        kept + u128::from(up)
    };
    let mantissa = if mantissa >> 64 != 0 {
        exponent += 1;
        mantissa >> 1
    } else {
        mantissa
    };
    if exponent > EXP_MAX {
        return None;
    }
    let mantissa = u64::try_from(mantissa).ok()?;
    if mantissa == 0 {
        return Some(LongDouble::ZERO);
    }
    Some(LongDouble { negative, mantissa, exponent })
}

/// Splits `digits[.digits][<marker>[sign]digits]` into (integer digits, fraction digits,
/// exponent). `None` unless the whole input matches with at least one mantissa digit.
fn split_number(body: &[u8], is_digit: fn(u8) -> bool, marker: u8) -> Option<(&[u8], &[u8], i64)> {
    let int_len = body.iter().take_while(|&&b| is_digit(b)).count();
    let (int_part, rest) = body.split_at(int_len);
    let (frac_part, rest) = match rest.split_first() {
        Some((b'.', after)) => {
            let n = after.iter().take_while(|&&b| is_digit(b)).count();
            after.split_at(n)
        }
        _ => (&[][..], rest),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let exponent = match rest.split_first() {
        None => 0,
        Some((m, after)) if m.eq_ignore_ascii_case(&marker) => {
            let (negative, digits) = match after.split_first() {
                Some((b'-', d)) => (true, d),
                Some((b'+', d)) => (false, d),
                _ => (false, after),
            };
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            // Saturate: anything this large over- or underflows regardless of the digits.
            let magnitude = digits.iter().fold(0i64, |acc, &d| (acc * 10 + i64::from(d - b'0')).min(10_000_000));
            if negative {
                -magnitude
            } else {
                magnitude
            }
        }
        Some(_) => return None,
    };
    Some((int_part, frac_part, exponent))
}

/// Reads unsigned decimal text, correctly rounded. `None` if malformed, out of range, or a
/// non-zero number that underflows to zero.
fn parse_decimal(body: &[u8]) -> Option<LongDouble> {
    let (int_part, frac_part, exp10) = split_number(body, |b| b.is_ascii_digit(), b'e')?;
    let all: Vec<u8> = int_part.iter().chain(frac_part).copied().collect();
    let first = all.iter().position(|&d| d != b'0');
    let Some(first) = first else { return Some(LongDouble::ZERO) };
    let last = all.iter().rposition(|&d| d != b'0').unwrap_or(first);
    let digits = all.get(first..=last)?;
    // value = D * 10^k with D the significant digits as an integer.
    let trailing = i64::try_from(all.len() - 1 - last).ok()?;
    let frac_len = i64::try_from(frac_part.len()).ok()?;
    let k = exp10 - frac_len + trailing;
    let n = i64::try_from(digits.len()).ok()?;
    if n - 1 + k > 4933 {
        return None; // above LDBL_MAX (~1.19e4932)
    }
    if n + k < -4955 {
        return None; // below half the smallest subnormal: underflows to zero
    }
    let d = Big::from_decimal(digits);
    let result = if k >= 0 {
        let mut b = d;
        b.mul_pow5(k.unsigned_abs());
        let (sig, shift, sticky) = b.top_bits();
        round(false, sig, k + shift, sticky)?
    } else {
        let p = {
            let mut p = Big::from_u64(1);
            p.mul_pow5(k.unsigned_abs());
            p
        };
        // Scale so that the quotient has 67 or 68 bits, enough to round with.
        let t = i64::try_from(d.bit_len()).ok()? - i64::try_from(p.bit_len()).ok()? - 67;
        let (num, den) = if t < 0 { (d.shl(t.unsigned_abs()), p) } else { (d, p.shl(t.unsigned_abs())) };
        let (quotient, remainder_nonzero) = num.div_small_quotient(&den);
        round(false, quotient, k + t, remainder_nonzero)?
    };
    (!result.is_zero()).then_some(result)
}

/// Reads the part of a hexadecimal float after `0x`, correctly rounded.
fn parse_hex(body: &[u8]) -> Option<LongDouble> {
    let (int_part, frac_part, exp2) = split_number(body, |b| b.is_ascii_hexdigit(), b'p')?;
    let all: Vec<u8> = int_part.iter().chain(frac_part).copied().collect();
    let first = all.iter().position(|&d| d != b'0');
    let Some(first) = first else { return Some(LongDouble::ZERO) };
    let digits = all.get(first..)?;
    let h = Big::from_hex(digits);
    let exp = exp2 - 4 * i64::try_from(frac_part.len()).ok()?;
    let bits = i64::try_from(h.bit_len()).ok()?;
    if bits + exp > 16_385 || bits + exp < -16_500 {
        return None;
    }
    let (sig, shift, sticky) = h.top_bits();
    let result = round(false, sig, exp + shift, sticky)?;
    (!result.is_zero()).then_some(result)
}

/// A minimal unsigned big integer (little-endian 32-bit limbs, no trailing zero limbs): just
/// what exact decimal conversion of extended-precision numbers needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(n: u64) -> Big {
        let mut b = Big(vec![n as u32, (n >> 32) as u32]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn mul_add_small(&mut self, factor: u32, addend: u32) {
        let mut carry = u64::from(addend);
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(factor) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    fn from_decimal(digits: &[u8]) -> Big {
        let mut b = Big(Vec::new());
        for chunk in digits.chunks(9) {
            let value = chunk.iter().fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'));
            b.mul_add_small(10u32.pow(chunk.len() as u32), value);
        }
        b
    }

    fn from_hex(digits: &[u8]) -> Big {
        let mut b = Big(Vec::new());
        for &d in digits {
            let value = char::from(d).to_digit(16).unwrap_or(0);
            b.mul_add_small(16, value);
        }
        b
    }

    fn mul_pow5(&mut self, mut k: u64) {
        const FIVE_13: u32 = 1_220_703_125;
        while k >= 13 {
            self.mul_add_small(FIVE_13, 0);
            k -= 13;
        }
        self.mul_add_small(5u32.pow(k as u32), 0);
    }

    fn bit_len(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(&top) => (self.0.len() as u64 - 1) * 32 + u64::from(32 - top.leading_zeros()),
        }
    }

    fn bit(&self, index: u64) -> bool {
        let limb = self.0.get((index / 32) as usize).copied().unwrap_or(0);
        (limb >> (index % 32)) & 1 == 1
    }

    fn shl(&self, bits: u64) -> Big {
        let limbs = (bits / 32) as usize;
        let bits = (bits % 32) as u32;
        let mut out = vec![0u32; limbs];
        let mut carry = 0u32;
        for &limb in &self.0 {
            if bits == 0 {
                out.push(limb);
            } else {
                out.push((limb << bits) | carry);
                carry = limb >> (32 - bits);
            }
        }
        out.push(carry);
        let mut b = Big(out);
        b.trim();
        b
    }

    /// The top (at most) 128 bits, how far they were shifted down, and whether any bit below
    /// them is set.
    fn top_bits(&self) -> (u128, i64, bool) {
        let len = self.bit_len();
        let shift = len.saturating_sub(128);
        let mut sig = 0u128;
        for i in (shift..len).rev() {
            sig = (sig << 1) | u128::from(self.bit(i));
        }
        let sticky = (0..shift).any(|i| self.bit(i));
        (sig, i64::try_from(shift).unwrap_or(i64::MAX), sticky)
    }

    fn cmp_big(&self, other: &Big) -> Ordering {
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    fn sub_assign(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let v = i64::from(*limb) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = i64::from(v < 0);
            *limb = (v + (borrow << 32)) as u32;
        }
        self.trim();
    }

    /// `self / den` for a quotient known to fit in 69 bits, and whether a remainder is left.
    fn div_small_quotient(mut self, den: &Big) -> (u128, bool) {
        let mut quotient = 0u128;
        for i in (0..=68u64).rev() {
            let shifted = den.shl(i);
            if self.cmp_big(&shifted) != Ordering::Less {
                self.sub_assign(&shifted);
                quotient |= 1u128 << i;
            }
        }
        (quotient, !self.0.is_empty())
    }

    fn to_decimal(&self) -> String {
        let mut limbs = self.0.clone();
        let mut chunks = Vec::new();
        while !limbs.is_empty() {
            let mut rem = 0u64;
            for limb in limbs.iter_mut().rev() {
                let v = (rem << 32) | u64::from(*limb);
                *limb = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
            chunks.push(rem);
        }
        let mut out = chunks.pop().map(|c| c.to_string()).unwrap_or_else(|| "0".to_string());
        for chunk in chunks.iter().rev() {
            out.push_str(&format!("{chunk:09}"));
        }
        out
    }
}

/// The byte range `GETRANGE key start end` returns from a string of `len` bytes, with Redis
/// 7.4's clamping (a negative `end` before the start clamps to 0, so `0 -100` still yields
/// the first byte). `None` for the empty string reply.
pub fn getrange_bounds(len: usize, start: i64, end: i64) -> Option<std::ops::Range<usize>> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len_i = i64::try_from(len).ok()?;
    let clamp = |i: i64| if i < 0 { (len_i.saturating_add(i)).max(0) } else { i };
    let start = clamp(start);
    let end = clamp(end).min(len_i - 1);
    if len == 0 || start > end {
        return None;
    }
    Some(usize::try_from(start).ok()?..usize::try_from(end).ok()? + 1)
}

/// One run of consecutive matching bytes found by [`lcs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LcsMatch {
    /// Where the run starts in the first string.
    pub a_start: usize,
    /// Where the run starts in the second string.
    pub b_start: usize,
    /// How many bytes the run covers.
    pub len: usize,
}

/// The result of [`lcs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lcs {
    /// The length of the longest common subsequence.
    pub len: usize,
    /// The subsequence itself.
    pub subsequence: Vec<u8>,
    /// The matching runs, from the end of the strings backwards, as `LCS ... IDX` lists them.
    pub matches: Vec<LcsMatch>,
}

/// The longest common subsequence of `a` and `b` by the classic dynamic programme, walked back
/// from the ends the way Redis walks it (on a tie, step back in `b`), so that the subsequence
/// and the runs chosen are the ones Redis reports. Memory is `(|a|+1) * (|b|+1)` cells; the
/// caller bounds it.
pub fn lcs(a: &[u8], b: &[u8]) -> Lcs {
    let width = b.len() + 1;
    let mut table = vec![0u32; (a.len() + 1) * width];
    let cell = |table: &[u32], i: usize, j: usize| table.get(i * width + j).copied().unwrap_or(0);
    for (i, &x) in a.iter().enumerate() {
        for (j, &y) in b.iter().enumerate() {
            let value = if x == y {
                cell(&table, i, j) + 1
            } else {
                cell(&table, i, j + 1).max(cell(&table, i + 1, j))
            };
            if let Some(slot) = table.get_mut((i + 1) * width + j + 1) {
                *slot = value;
            }
        }
    }
    let len = cell(&table, a.len(), b.len()) as usize;
    let mut subsequence = Vec::with_capacity(len);
    let mut matches = Vec::new();
    // The run being tracked: (a_start, b_start, len), extended backwards.
    let mut run: Option<(usize, usize, usize)> = None;
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        let (x, y) = (a.get(i - 1), b.get(j - 1));
        let close;
        if x == y {
            subsequence.extend(x);
            run = Some(match run {
                Some((ra, rb, rlen)) if ra == i && rb == j => (ra - 1, rb - 1, rlen + 1),
                _ => (i - 1, j - 1, 1),
            });
            close = i == 1 || j == 1;
            i -= 1;
            j -= 1;
        } else {
            if cell(&table, i - 1, j) > cell(&table, i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            close = run.is_some();
        }
        if close {
            if let Some((a_start, b_start, len)) = run.take() {
                matches.push(LcsMatch { a_start, b_start, len });
            }
        }
    }
    subsequence.reverse();
    Lcs { len, subsequence, matches }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn incr(current: &str, by: &str) -> Result<String, IncrFloatError> {
        incr_by_float(current.as_bytes(), by.as_bytes())
    }

    #[test]
    fn sums_print_as_redis_prints_them() {
        // Expected strings taken from redis-server 7.0.15 on x86-64.
        assert_eq!(incr("10.5", "0.1").unwrap(), "10.6");
        assert_eq!(incr("10.6", "1e30").unwrap(), "1000000000000000000024696061952");
        assert_eq!(incr("0", "1e-20").unwrap(), "0");
        assert_eq!(incr("0", "-2e-20").unwrap(), "0");
        assert_eq!(incr("0", "0x10").unwrap(), "16");
        assert_eq!(incr("0", "5.0e3").unwrap(), "5000");
        assert_eq!(incr("3", "0.00000381469726562500").unwrap(), "3.00000381469726562");
        assert_eq!(incr("0", "1e-4940").unwrap(), "0");
    }

    #[test]
    fn huge_sums_print_every_integer_digit() {
        let expected = "10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880";
        assert_eq!(incr("16", "1e400").unwrap(), expected);
    }

    #[test]
    fn invalid_and_out_of_range_inputs_are_not_floats() {
        for bad in ["", " 1", "1 ", "nan", "abc", "1e", "1e+", ".", "-", "0x", "1.2e4932", "1e-5000", "1..2"] {
            assert_eq!(incr("0", bad), Err(IncrFloatError::NotFloat), "{bad:?}");
        }
        assert_eq!(incr("x", "1"), Err(IncrFloatError::NotFloat));
    }

    #[test]
    fn infinities_are_rejected_as_the_sum() {
        assert_eq!(incr("0", "inf"), Err(IncrFloatError::NanOrInfinity));
        assert_eq!(incr("-Infinity", "1"), Err(IncrFloatError::NanOrInfinity));
        assert_eq!(incr("1.1e4932", "1.1e4932"), Err(IncrFloatError::NanOrInfinity));
    }

    #[test]
    fn an_embedded_nul_makes_the_number_invalid() {
        assert_eq!(incr_by_float(b"1.5\0junk", b"1"), Err(IncrFloatError::NotFloat));
        assert_eq!(incr_by_float(b"\0", b"1"), Err(IncrFloatError::NotFloat));
        assert_eq!(incr_by_float(b"1", b"2\0"), Err(IncrFloatError::NotFloat));
    }

    /// Writes `units / 10^scale` as the shortest plain decimal (what Redis prints back for a
    /// short decimal: the extended format holds it to within 1e-17 below 90).
    fn plain_decimal(units: i64, scale: u32) -> String {
        let text = format!("{}", units.unsigned_abs());
        let padded = format!("{:0>width$}", text, width = scale as usize + 1);
        let (int, frac) = padded.split_at(padded.len() - scale as usize);
        let frac = frac.trim_end_matches('0');
        let sign = if units < 0 { "-" } else { "" };
        if frac.is_empty() {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{frac}")
        }
    }

    proptest::proptest! {
        #[test]
        fn integer_sums_are_exact(a in -(1i64 << 62)..(1i64 << 62), b in -(1i64 << 62)..(1i64 << 62)) {
            let sum = incr(&a.to_string(), &b.to_string()).unwrap();
            proptest::prop_assert_eq!(sum, (i128::from(a) + i128::from(b)).to_string());
        }

        #[test]
        fn short_decimals_read_back_as_written(scale in 0u32..16, units in -8_900_000_000_000_000i64..8_900_000_000_000_000) {
            let limit = 89 * 10i64.pow(scale);
            let units = units % limit.max(1);
            let written = plain_decimal(units, scale);
            let sum = incr(&written, "0").unwrap();
            proptest::prop_assert_eq!(&sum, &written, "{}", written);
        }
    }

    #[test]
    fn lcs_reports_the_runs_redis_reports() {
        let result = lcs(b"ohmytext", b"mynewtext");
        assert_eq!(result.len, 6);
        assert_eq!(result.subsequence, b"mytext");
        let runs: Vec<_> = result.matches.iter().map(|m| (m.a_start, m.b_start, m.len)).collect();
        assert_eq!(runs, vec![(4, 5, 4), (2, 0, 2)]);
        assert_eq!(lcs(b"", b"abc").len, 0);
    }

    #[test]
    fn getrange_clamps_like_redis_7_4() {
        assert_eq!(getrange_bounds(5, 0, -100), Some(0..1));
        assert_eq!(getrange_bounds(5, -1, -5), None);
        assert_eq!(getrange_bounds(5, 5, 3), None);
        assert_eq!(getrange_bounds(5, 1, 100), Some(1..5));
        assert_eq!(getrange_bounds(5, -3, -1), Some(2..5));
        assert_eq!(getrange_bounds(0, 0, -1), None);
        assert_eq!(getrange_bounds(5, i64::MIN, i64::MAX), Some(0..5));
    }
}
