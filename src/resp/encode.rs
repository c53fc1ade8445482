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

/// Formats a double as Redis 7.4 does in replies: the shortest text that reads back as the
/// same value, `inf`/`-inf`, and `nan`.
pub fn format_double(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if value == value.trunc() && value.abs() < 1e17 {
        // Integral values print without a fraction, as %.17g does.
        return format!("{}", value as i64);
    }
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(value);
    // ryu writes "1e-7" and "1.5e20"; Redis writes "1e-07" and "1.5e+20" (printf's %g style).
    match text.split_once('e') {
        Some((mantissa, exponent)) => {
            let (sign, digits) = match exponent.strip_prefix('-') {
                Some(digits) => ('-', digits),
                None => ('+', exponent),
            };
            let padded = if digits.len() < 2 { format!("0{digits}") } else { digits.to_string() };
            format!("{mantissa}e{sign}{padded}")
        }
        None => text.to_string(),
    }
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
        assert_eq!(format_double(1e-7), "1e-07");
        assert_eq!(encoded(&Reply::Double(2.5), Protocol::Resp2), b"$3\r\n2.5\r\n");
        assert_eq!(encoded(&Reply::Verbatim("txt", Bytes::from("hi")), Protocol::Resp3), b"=6\r\ntxt:hi\r\n");
    }
}
