//! A resumable parser for client requests, in both of the forms Redis accepts:
//!
//! * multibulk: `*<argc>\r\n` then `argc` times `$<len>\r\n<bytes>\r\n` (what every client sends);
//! * inline: one line of space-separated words, with Redis's quoting rules (what telnet and
//!   `redis-cli` health checks send).
//!
//! The parser keeps its position between calls: a command that arrives in many reads is parsed
//! once, never rescanned from its start, so a huge pipelined command costs linear time. Its limits
//! and error texts are Redis's (`networking.c`); every [`ProtocolError`] closes the connection
//! after the error reply is written, as Redis does.

use bytes::{Buf, Bytes, BytesMut};

/// The longest inline request, and the longest `*<n>` or `$<n>` line, Redis accepts (64 KiB).
pub const INLINE_MAX_SIZE: usize = 64 * 1024;

/// Size limits the parser enforces; they come from the server configuration.
#[derive(Debug, Clone, Copy)]
pub struct ParserLimits {
    /// `proto-max-bulk-len`: the longest single argument, in bytes.
    pub max_bulk_len: u64,
}

impl Default for ParserLimits {
    fn default() -> Self {
        ParserLimits { max_bulk_len: 512 * 1024 * 1024 }
    }
}

/// A malformed request. The connection replies with [`ProtocolError::message`] and then closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// An inline request longer than [`INLINE_MAX_SIZE`] without a newline.
    TooBigInline,
    /// A `*<n>` line longer than [`INLINE_MAX_SIZE`].
    TooBigMultibulkCount,
    /// A `$<n>` line longer than [`INLINE_MAX_SIZE`].
    TooBigBulkCount,
    /// `*<n>` where n is not an integer or is too large.
    InvalidMultibulkLength,
    /// `$<n>` where n is not an integer, negative, or over `proto-max-bulk-len`.
    InvalidBulkLength,
    /// Inside a multibulk, an element that does not start with `$`.
    ExpectedDollar(u8),
    /// An inline request with an unterminated quote.
    UnbalancedQuotes,
}

impl ProtocolError {
    /// The error reply, with Redis's exact wording.
    pub fn message(&self) -> String {
        match self {
            ProtocolError::TooBigInline => "ERR Protocol error: too big inline request".into(),
            ProtocolError::TooBigMultibulkCount => {
                "ERR Protocol error: too big mbulk count string".into()
            }
            ProtocolError::TooBigBulkCount => "ERR Protocol error: too big bulk count string".into(),
            ProtocolError::InvalidMultibulkLength => {
                "ERR Protocol error: invalid multibulk length".into()
            }
            ProtocolError::InvalidBulkLength => "ERR Protocol error: invalid bulk length".into(),
            ProtocolError::ExpectedDollar(got) => {
                format!("ERR Protocol error: expected '$', got '{}'", *got as char)
            }
            ProtocolError::UnbalancedQuotes => {
                "ERR Protocol error: unbalanced quotes in request".into()
            }
        }
    }
}

/// Where the parser stands inside a multibulk request.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Between requests.
    Idle,
    /// Inside a multibulk with `remaining` arguments to go, waiting for a `$<len>` line.
    BulkHeader { remaining: usize },
    /// Waiting for `len` bytes of argument data plus the two bytes that end it.
    BulkData { remaining: usize, len: usize },
}

/// Turns bytes from a client into commands (argument vectors), one at a time.
#[derive(Debug)]
pub struct RequestParser {
    state: State,
    args: Vec<Bytes>,
    limits: ParserLimits,
    /// Emptied argument vectors handed back with [`RequestParser::recycle`], reused for the
    /// next commands instead of allocating one per command.
    spare: Vec<Vec<Bytes>>,
}

/// How many spare argument vectors the parser keeps (a pipeline's worth).
const SPARE_VECTORS: usize = 64;
/// Vectors with room for more arguments than this are not kept (a one-off huge MSET).
const SPARE_MAX_CAPACITY: usize = 64;

impl RequestParser {
    /// A parser that enforces `limits`.
    pub fn new(limits: ParserLimits) -> Self {
        RequestParser { state: State::Idle, args: Vec::new(), limits, spare: Vec::new() }
    }

    /// Changes the limits (after `CONFIG SET proto-max-bulk-len`).
    pub fn set_limits(&mut self, limits: ParserLimits) {
        self.limits = limits;
    }

    /// Takes back the vector of a command that has run, to hold a later command's arguments.
    pub fn recycle(&mut self, mut args: Vec<Bytes>) {
        if self.spare.len() < SPARE_VECTORS && args.capacity() <= SPARE_MAX_CAPACITY {
            args.clear();
            self.spare.push(args);
        }
    }

    /// How many bytes the current partial argument still needs, so the caller can reserve them
    /// in one allocation instead of growing its buffer read by read.
    pub fn pending_bulk_len(&self) -> Option<usize> {
        match self.state {
            State::BulkData { len, .. } => Some(len + 2),
            _ => None,
        }
    }

    /// Parses the next complete command from the front of `buf`, consuming its bytes.
    ///
    /// Returns `Ok(None)` when `buf` holds no complete command yet; the bytes of a partial
    /// command are consumed as far as they go and the rest is awaited. Empty commands (`*0`,
    /// `*-1`, blank inline lines) are skipped, as Redis skips them.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            match self.state {
                State::Idle => {
                    let Some(&first) = buf.first() else { return Ok(None) };
                    if first == b'*' {
                        let Some(count) = read_length_line(buf, ProtocolError::TooBigMultibulkCount)?
                        else {
                            return Ok(None);
                        };
                        if count > i64::from(i32::MAX) {
                            return Err(ProtocolError::InvalidMultibulkLength);
                        }
                        if count > 0 {
                            let remaining = usize::try_from(count)
                                .map_err(|_| ProtocolError::InvalidMultibulkLength)?;
                            // Never trust the count for an allocation: cap the reservation.
                            self.args = self.spare.pop().unwrap_or_default();
                            self.args.reserve(remaining.min(1024));
                            self.state = State::BulkHeader { remaining };
                        }
                    } else {
                        match parse_inline(buf)? {
                            None => return Ok(None),
                            Some(args) if args.is_empty() => continue,
                            Some(args) => return Ok(Some(args)),
                        }
                    }
                }
                State::BulkHeader { remaining } => {
                    let Some(&first) = buf.first() else { return Ok(None) };
                    if first != b'$' {
                        // Redis reports the byte only once a whole line is there to look at.
                        if !buf.contains(&b'\r') {
                            if buf.len() > INLINE_MAX_SIZE {
                                return Err(ProtocolError::TooBigBulkCount);
                            }
                            return Ok(None);
                        }
                        return Err(ProtocolError::ExpectedDollar(first));
                    }
                    let Some(len) = read_length_line(buf, ProtocolError::TooBigBulkCount)? else {
                        return Ok(None);
                    };
                    let len = u64::try_from(len).map_err(|_| ProtocolError::InvalidBulkLength)?;
                    if len > self.limits.max_bulk_len {
                        return Err(ProtocolError::InvalidBulkLength);
                    }
                    let len = usize::try_from(len).map_err(|_| ProtocolError::InvalidBulkLength)?;
                    self.state = State::BulkData { remaining, len };
                }
                State::BulkData { remaining, len } => {
                    if buf.len() < len + 2 {
                        return Ok(None);
                    }
                    let arg = buf.split_to(len).freeze();
                    // Redis skips the two bytes after the data without looking at them.
                    buf.advance(2);
                    self.args.push(arg);
                    if remaining > 1 {
                        self.state = State::BulkHeader { remaining: remaining - 1 };
                    } else {
                        self.state = State::Idle;
                        return Ok(Some(std::mem::take(&mut self.args)));
                    }
                }
            }
        }
    }
}

/// Reads a `*<n>\r\n` or `$<n>\r\n` line. `None` until the whole line is buffered.
fn read_length_line(buf: &mut BytesMut, too_big: ProtocolError) -> Result<Option<i64>, ProtocolError> {
    if let Some((value, line_len)) = short_length_line(buf) {
        buf.advance(line_len);
        return Ok(Some(value));
    }
    let Some(cr) = memchr(b'\r', buf) else {
        if buf.len() > INLINE_MAX_SIZE {
            return Err(too_big);
        }
        return Ok(None);
    };
    if cr > INLINE_MAX_SIZE {
        return Err(too_big);
    }
    // The '\n' after the '\r' must be buffered too before the line counts as complete.
    if buf.len() < cr + 2 {
        return Ok(None);
    }
    let invalid = match too_big {
        ProtocolError::TooBigMultibulkCount => ProtocolError::InvalidMultibulkLength,
        _ => ProtocolError::InvalidBulkLength,
    };
    let digits = buf.get(1..cr).ok_or(invalid.clone())?;
    let value = parse_i64_strict(digits).ok_or(invalid)?;
    buf.advance(cr + 2);
    Ok(Some(value))
}

/// The common case of [`read_length_line`], in one pass: after the type byte, 1 to 18 digits
/// without a leading zero, then `\r\n`, all buffered. Returns the value and the line's length;
/// `None` sends every other case (signs, long or partial lines, errors) down the general path,
/// which would accept the same lines with the same values.
#[inline]
fn short_length_line(buf: &[u8]) -> Option<(i64, usize)> {
    let mut value: i64 = 0;
    for (index, &byte) in buf.iter().enumerate().skip(1).take(19) {
        // At most 18 digits, so the value cannot overflow.
        if byte.is_ascii_digit() && index <= 18 {
            value = value * 10 + i64::from(byte - b'0');
            continue;
        }
        let digits = index - 1;
        let leading_zero = digits > 1 && buf.get(1) == Some(&b'0');
        let valid = byte == b'\r' && buf.get(index + 1) == Some(&b'\n') && (1..=18).contains(&digits) && !leading_zero;
        return valid.then_some((value, index + 2));
    }
    None
}

/// Parses a decimal integer the way Redis's `string2ll` does: no spaces, no `+`, no leading
/// zeros, no overflow.
pub fn parse_i64_strict(bytes: &[u8]) -> Option<i64> {
    let (negative, digits) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, bytes),
    };
    match digits {
        [] => return None,
        [b'0'] => return if negative { None } else { Some(0) },
        [b'0', ..] => return None,
        _ => {}
    }
    let mut value: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let digit = i64::from(d - b'0');
        value = if negative {
            value.checked_mul(10)?.checked_sub(digit)?
        } else {
            value.checked_mul(10)?.checked_add(digit)?
        };
    }
    Some(value)
}

/// Parses one inline line if a whole one is buffered. `Some(vec![])` for a blank line.
fn parse_inline(buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(newline) = memchr(b'\n', buf) else {
        if buf.len() > INLINE_MAX_SIZE {
            return Err(ProtocolError::TooBigInline);
        }
        return Ok(None);
    };
    let line = buf.split_to(newline + 1);
    let mut end = newline;
    if end > 0 && line.get(end - 1) == Some(&b'\r') {
        end -= 1;
    }
    let args = split_inline_args(line.get(..end).unwrap_or_default())?;
    Ok(Some(args))
}

/// Splits an inline request into arguments with the quoting rules of Redis's `sdssplitargs`:
/// `"double quotes"` with `\n \r \t \b \a \\ \" \xHH` escapes, `'single quotes'` with `\'`,
/// and a closing quote that must be followed by a space or the end of the line.
pub fn split_inline_args(line: &[u8]) -> Result<Vec<Bytes>, ProtocolError> {
    let mut args = Vec::new();
    let mut i = 0;
    let at = |i: usize| line.get(i).copied();
    loop {
        while at(i).is_some_and(|c| c.is_ascii_whitespace()) {
            i += 1;
        }
        if matches!(at(i), None | Some(0)) {
            return Ok(args);
        }
        let mut current = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let c = at(i);
            if in_double {
                match c {
                    None => return Err(ProtocolError::UnbalancedQuotes),
                    Some(b'\\') if at(i + 1) == Some(b'x')
                        && at(i + 2).is_some_and(|h| h.is_ascii_hexdigit())
                        && at(i + 3).is_some_and(|h| h.is_ascii_hexdigit()) =>
                    {
                        let hex = |h: u8| (h as char).to_digit(16).unwrap_or(0) as u8;
                        current.push(hex(at(i + 2).unwrap_or(b'0')) * 16 + hex(at(i + 3).unwrap_or(b'0')));
                        i += 3;
                    }
                    Some(b'\\') if at(i + 1).is_some() => {
                        i += 1;
                        current.push(match at(i).unwrap_or(b'\\') {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            other => other,
                        });
                    }
                    Some(b'"') => {
                        if at(i + 1).is_some_and(|n| !n.is_ascii_whitespace()) {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        i += 1;
                        break;
                    }
                    Some(other) => current.push(other),
                }
            } else if in_single {
                match c {
                    None => return Err(ProtocolError::UnbalancedQuotes),
                    Some(b'\\') if at(i + 1) == Some(b'\'') => {
                        i += 1;
                        current.push(b'\'');
                    }
                    Some(b'\'') => {
                        if at(i + 1).is_some_and(|n| !n.is_ascii_whitespace()) {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        i += 1;
                        break;
                    }
                    Some(other) => current.push(other),
                }
            } else {
                match c {
                    None => break,
                    // A NUL ends the whole line, as the C string does in Redis's sdssplitargs.
                    // (Breaking without consuming it would loop forever, pushing empty args.)
                    Some(0) => {
                        args.push(Bytes::from(current));
                        return Ok(args);
                    }
                    Some(b' ' | b'\n' | b'\r' | b'\t') => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(other) => current.push(other),
                }
            }
            i += 1;
        }
        args.push(Bytes::from(current));
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn short_length_lines_agree_with_the_general_parser() {
        assert_eq!(short_length_line(b"$0\r\n"), Some((0, 4)));
        assert_eq!(short_length_line(b"*3\r\n$3"), Some((3, 4)));
        assert_eq!(short_length_line(b"$123456789012345678\r\n"), Some((123_456_789_012_345_678, 21)));
        // Everything else takes the general path.
        for line in [&b"$1234567890123456789\r\n"[..], b"$01\r\n", b"*-1\r\n", b"$1x\r\n", b"$\r\n", b"$12\r", b"$12"] {
            assert_eq!(short_length_line(line), None, "{line:?}");
        }
    }

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
        let mut parser = RequestParser::new(ParserLimits::default());
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(cmd) = parser.parse(&mut buf)? {
            out.push(cmd);
        }
        Ok(out)
    }

    #[test]
    fn parses_a_multibulk_command() {
        let cmds = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n").unwrap();
        assert_eq!(cmds, vec![vec![Bytes::from("GET"), Bytes::from("k")]]);
    }

    #[test]
    fn parses_a_command_split_at_every_byte() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        let mut parser = RequestParser::new(ParserLimits::default());
        let mut buf = BytesMut::new();
        let mut got = None;
        for &byte in input.iter() {
            buf.extend_from_slice(&[byte]);
            if let Some(cmd) = parser.parse(&mut buf).unwrap() {
                got = Some(cmd);
            }
        }
        assert_eq!(got.unwrap().len(), 3);
        assert!(buf.is_empty());
    }

    #[test]
    fn parses_inline_commands_with_quotes() {
        let cmds = parse_all(b"set \"a b\" 'c\\'d' \"\\x41\\n\"\r\n").unwrap();
        assert_eq!(cmds[0], vec![Bytes::from("set"), Bytes::from("a b"), Bytes::from("c'd"), Bytes::from("A\n")]);
    }

    #[test]
    fn skips_blank_inline_lines_and_empty_multibulks() {
        let cmds = parse_all(b"\r\n*0\r\n*-1\r\nPING\r\n").unwrap();
        assert_eq!(cmds, vec![vec![Bytes::from("PING")]]);
    }

    #[test]
    fn a_nul_byte_ends_an_inline_line_instead_of_looping_forever() {
        assert_eq!(split_inline_args(b"PING\0foo bar").unwrap(), vec![Bytes::from("PING")]);
        assert_eq!(split_inline_args(b"a \0b").unwrap(), vec![Bytes::from("a")]);
    }

    #[test]
    fn rejects_unbalanced_quotes() {
        assert_eq!(parse_all(b"set \"abc\r\n"), Err(ProtocolError::UnbalancedQuotes));
        assert_eq!(parse_all(b"set \"a\"b\r\n"), Err(ProtocolError::UnbalancedQuotes));
    }

    #[test]
    fn rejects_bad_lengths_with_redis_messages() {
        assert_eq!(parse_all(b"*x\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(parse_all(b"*1\r\n$-1\r\n"), Err(ProtocolError::InvalidBulkLength));
        assert_eq!(parse_all(b"*1\r\n$536870913\r\n"), Err(ProtocolError::InvalidBulkLength));
        assert_eq!(parse_all(b"*1\r\n:1\r\n"), Err(ProtocolError::ExpectedDollar(b':')));
        assert_eq!(parse_all(b"*3000000000\r\n"), Err(ProtocolError::InvalidMultibulkLength));
    }

    #[test]
    fn rejects_overlong_inline_requests() {
        let long = vec![b'a'; INLINE_MAX_SIZE + 1];
        assert_eq!(parse_all(&long), Err(ProtocolError::TooBigInline));
    }

    #[test]
    fn strict_integers_follow_string2ll() {
        assert_eq!(parse_i64_strict(b"0"), Some(0));
        assert_eq!(parse_i64_strict(b"-12"), Some(-12));
        assert_eq!(parse_i64_strict(b"012"), None);
        assert_eq!(parse_i64_strict(b"+1"), None);
        assert_eq!(parse_i64_strict(b"-0"), None);
        assert_eq!(parse_i64_strict(b"9223372036854775808"), None);
        assert_eq!(parse_i64_strict(b"-9223372036854775808"), Some(i64::MIN));
    }
}
