//! Writes a [`Reply`] as RESP2 or RESP3 bytes.

use super::Reply;
use bytes::{BufMut, BytesMut};

/// The protocol a connection speaks, chosen with `HELLO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, the default.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

impl Protocol {
    /// The protocol's number, as `HELLO` and `CLIENT INFO` show it.
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// Appends `reply`, encoded for `protocol`, to `out`.
pub fn encode(reply: &Reply, protocol: Protocol, out: &mut BytesMut) {
    let resp3 = protocol == Protocol::Resp3;
    match reply {
        Reply::Simple(text) => line(out, b'+', text),
        Reply::Error(text) => error_line(out, text),
        Reply::Integer(n) => header(out, b':', *n),
        Reply::Bulk(bytes) => bulk(out, bytes),
        Reply::Null if resp3 => out.put_slice(b"_\r\n"),
        Reply::Null => out.put_slice(b"$-1\r\n"),
        Reply::NullArray if resp3 => out.put_slice(b"_\r\n"),
        Reply::NullArray => out.put_slice(b"*-1\r\n"),
        Reply::Array(items) => sequence(out, b'*', items, protocol),
        Reply::Set(items) => sequence(out, if resp3 { b'~' } else { b'*' }, items, protocol),
        Reply::Push(items) => sequence(out, if resp3 { b'>' } else { b'*' }, items, protocol),
        Reply::Map(pairs) => {
            if resp3 {
                header(out, b'%', len_i64(pairs.len()));
            } else {
                header(out, b'*', len_i64(pairs.len() * 2));
            }
            for (key, value) in pairs {
                encode(key, protocol, out);
                encode(value, protocol, out);
            }
        }
        Reply::Double(value) => {
            let text = format_double(*value);
            if resp3 {
                line(out, b',', text.as_bytes());
            } else {
                bulk(out, text.as_bytes());
            }
        }
        Reply::Boolean(value) if resp3 => out.put_slice(if *value { b"#t\r\n" } else { b"#f\r\n" }),
        Reply::Boolean(value) => header(out, b':', i64::from(*value)),
        Reply::Verbatim(format, text) if resp3 => {
            header(out, b'=', len_i64(text.len() + 4));
            out.put_slice(format.as_bytes());
            out.put_u8(b':');
            out.put_slice(text);
            out.put_slice(b"\r\n");
        }
        Reply::Verbatim(_, text) => bulk(out, text),
        Reply::Raw(bytes) => out.put_slice(bytes),
    }
}

/// Formats a double as Redis 7.4 does in replies (its `d2string`): `nan`, `inf`/`-inf`,
/// `0`/`-0`, an integer when the value is one within half of `i64`'s range
/// (`123456789012345680`), else the shortest digits that read back as the same value in
/// fpconv's layout: plain for moderate exponents (`0.1`, `1.5`), scientific otherwise
/// (`1e-7`, `1e+20`, `1.5e+300`). Redis 7.0 printed `%.17g` (`0.10000000000000001`) instead.
pub fn format_double(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let half = (i64::MAX / 2) as f64;
    if value == value.trunc() && (-half..=half).contains(&value) {
        return format!("{}", value as i64);
    }
    // ryu gives the shortest round-trip digits; lay them out as fpconv's emit_digits does.
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(value.abs());
    let (mantissa, exponent) = match text.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let frac_part = if frac_part == "0" { "" } else { frac_part };
    let mut digits: String = format!("{int_part}{frac_part}");
    // K: the power of ten of the last digit.
    let mut k = exponent - i32::try_from(frac_part.len()).unwrap_or(0);
    let trimmed = digits.trim_start_matches('0').len();
    digits = digits.split_off(digits.len() - trimmed);
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
        k += 1;
    }
    let ndigits = i32::try_from(digits.len()).unwrap_or(0);
    let exp = (k + ndigits - 1).abs();
    let mut out = String::new();
    if value < 0.0 {
        out.push('-');
    }
    if k >= 0 && exp < ndigits + 7 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', usize::try_from(k).unwrap_or(0)));
    } else if k < 0 && (k > -7 || exp < 4) {
        let offset = ndigits - k.abs();
        if offset <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', usize::try_from(-offset).unwrap_or(0)));
            out.push_str(&digits);
        } else {
            let (head, tail) = digits.split_at(usize::try_from(offset).unwrap_or(0));
            out.push_str(head);
            out.push('.');
            out.push_str(tail);
        }
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if k + ndigits - 1 < 0 { '-' } else { '+' });
        out.push_str(&exp.to_string());
    }
    out
}

fn len_i64(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

fn line(out: &mut BytesMut, prefix: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(prefix);
    out.put_slice(text);
    out.put_slice(b"\r\n");
}

/// Errors are one line: Redis turns any `\r` or `\n` in their text into spaces.
fn error_line(out: &mut BytesMut, text: &[u8]) {
    if text.iter().any(|&b| b == b'\r' || b == b'\n') {
        let flat: Vec<u8> = text.iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }).collect();
        line(out, b'-', &flat);
    } else {
        line(out, b'-', text);
    }
}

fn header(out: &mut BytesMut, prefix: u8, n: i64) {
    let mut digits = itoa::Buffer::new();
    line(out, prefix, digits.format(n).as_bytes());
}

fn bulk(out: &mut BytesMut, bytes: &[u8]) {
    header(out, b'$', len_i64(bytes.len()));
    out.reserve(bytes.len() + 2);
    out.put_slice(bytes);
    out.put_slice(b"\r\n");
}

fn sequence(out: &mut BytesMut, prefix: u8, items: &[Reply], protocol: Protocol) {
    header(out, prefix, len_i64(items.len()));
    for item in items {
        encode(item, protocol, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn encoded(reply: &Reply, protocol: Protocol) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode(reply, protocol, &mut out);
        out.to_vec()
    }

    #[test]
    fn nulls_differ_by_protocol() {
        assert_eq!(encoded(&Reply::Null, Protocol::Resp2), b"$-1\r\n");
        assert_eq!(encoded(&Reply::NullArray, Protocol::Resp2), b"*-1\r\n");
        assert_eq!(encoded(&Reply::Null, Protocol::Resp3), b"_\r\n");
    }

    #[test]
    fn maps_flatten_in_resp2() {
        let map = Reply::Map(vec![(Reply::bulk("a"), Reply::Integer(1))]);
        assert_eq!(encoded(&map, Protocol::Resp2), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(encoded(&map, Protocol::Resp3), b"%1\r\n$1\r\na\r\n:1\r\n");
    }

    #[test]
    fn doubles_use_redis_text() {
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(1e-7), "1e-7");
        assert_eq!(format_double(0.1), "0.1");
        assert_eq!(format_double(-0.0), "-0");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(1e17), "100000000000000000");
        assert_eq!(format_double(123456789012345678.0), "123456789012345680");
        assert_eq!(format_double(5e18), "5e+18");
        assert_eq!(format_double(3.0000000000000004), "3.0000000000000004");
        assert_eq!(format_double(-1.5e-300), "-1.5e-300");
        assert_eq!(format_double(0.000123), "0.000123");
        assert_eq!(format_double(1234.5678), "1234.5678");
        assert_eq!(format_double(0.00012345), "1.2345e-4");
        assert_eq!(format_double(-0.000025), "-0.000025");
        assert_eq!(format_double(1e-6), "0.000001");
        assert_eq!(format_double(1e21), "1e+21");
        assert_eq!(format_double(1.5e300), "1.5e+300");
        assert_eq!(format_double(4611686018427387904.0), "4611686018427387904");
        assert_eq!(format_double(12345678.9), "12345678.9");
        assert_eq!(encoded(&Reply::Double(2.5), Protocol::Resp2), b"$3\r\n2.5\r\n");
        assert_eq!(encoded(&Reply::Verbatim("txt", Bytes::from("hi")), Protocol::Resp3), b"=6\r\ntxt:hi\r\n");
    }
}
