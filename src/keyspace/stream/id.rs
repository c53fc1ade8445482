//! Stream IDs (`<ms>-<seq>`) and the ways commands spell them.

use std::fmt;

/// A stream entry ID: milliseconds and a sequence number, ordered by both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// The millisecond part.
    pub ms: u64,
    /// The sequence part.
    pub seq: u64,
}

/// Why an ID argument was rejected; each variant is one of Redis's error texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdError {
    /// `ERR Invalid stream ID specified as stream command argument`.
    Invalid,
}

impl IdError {
    /// The error text Redis replies with.
    pub fn message(self) -> &'static str {
        match self {
            IdError::Invalid => "ERR Invalid stream ID specified as stream command argument",
        }
    }
}

impl StreamId {
    /// `0-0`.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// `18446744073709551615-18446744073709551615`.
    pub const MAX: StreamId = StreamId { ms: u64::MAX, seq: u64::MAX };

    /// An ID from its parts.
    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID, or `None` after [`StreamId::MAX`].
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous ID, or `None` before `0-0`.
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// Whether this is `0-0`.
    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// The ID as `<ms>-<seq>` bytes.
    pub fn to_bytes(self) -> bytes::Bytes {
        bytes::Bytes::from(self.to_string())
    }

    /// Parses an ID as range commands read it: `<ms>` alone means `<ms>-<missing_seq>`;
    /// `-` and `+` are the smallest and largest IDs.
    pub fn parse_range(arg: &[u8], missing_seq: u64) -> Result<StreamId, IdError> {
        match arg {
            b"-" => return Ok(StreamId::MIN),
            b"+" => return Ok(StreamId::MAX),
            _ => {}
        }
        match split(arg) {
            (ms, None) => Ok(StreamId::new(parse_u64(ms)?, missing_seq)),
            (ms, Some(seq)) => Ok(StreamId::new(parse_u64(ms)?, parse_u64(seq)?)),
        }
    }

    /// Parses a complete, explicit ID (`<ms>-<seq>`, or `<ms>` meaning `<ms>-0`), without the
    /// `-`/`+` shorthands (XGROUP, XSETID, XCLAIM, XACK...).
    pub fn parse_strict(arg: &[u8]) -> Result<StreamId, IdError> {
        if arg == b"-" || arg == b"+" {
            return Err(IdError::Invalid);
        }
        StreamId::parse_range(arg, 0)
    }
}

/// A range bound: `(` makes it exclusive. Returns the inclusive ID it stands for, or `None`
/// when an exclusive bound leaves nothing on its side (`(0-0` as a start, `(max` as an end).
pub fn parse_bound(arg: &[u8], is_start: bool) -> Result<Option<StreamId>, IdError> {
    let missing_seq = if is_start { 0 } else { u64::MAX };
    if let Some(rest) = arg.strip_prefix(b"(") {
        if rest == b"-" || rest == b"+" {
            return Err(IdError::Invalid);
        }
        let id = StreamId::parse_range(rest, missing_seq)?;
        return Ok(if is_start { id.next() } else { id.prev() });
    }
    StreamId::parse_range(arg, missing_seq).map(Some)
}

/// What the ID argument of XADD asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddId {
    /// `*`: the stream picks the ID from the clock.
    Auto,
    /// `<ms>-*`: the stream picks the sequence.
    AutoSeq(u64),
    /// An explicit ID (`<ms>` alone means `<ms>-0`).
    Explicit(StreamId),
}

impl AddId {
    /// Parses XADD's ID argument.
    pub fn parse(arg: &[u8]) -> Result<AddId, IdError> {
        if arg == b"*" {
            return Ok(AddId::Auto);
        }
        match split(arg) {
            (ms, Some(b"*")) => Ok(AddId::AutoSeq(parse_u64(ms)?)),
            (ms, None) => Ok(AddId::Explicit(StreamId::new(parse_u64(ms)?, 0))),
            (ms, Some(seq)) => Ok(AddId::Explicit(StreamId::new(parse_u64(ms)?, parse_u64(seq)?))),
        }
    }
}

fn split(arg: &[u8]) -> (&[u8], Option<&[u8]>) {
    match arg.iter().position(|b| *b == b'-') {
        Some(at) => (arg.get(..at).unwrap_or_default(), arg.get(at + 1..)),
        None => (arg, None),
    }
}

/// Redis's `string2ull`: decimal digits only, no sign, no overflow (a leading `+`/`-` or
/// spaces are rejected).
fn parse_u64(digits: &[u8]) -> Result<u64, IdError> {
    if digits.is_empty() || digits.len() > 20 {
        return Err(IdError::Invalid);
    }
    let mut value: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return Err(IdError::Invalid);
        }
        value = value.checked_mul(10).and_then(|v| v.checked_add(u64::from(b - b'0'))).ok_or(IdError::Invalid)?;
    }
    Ok(value)
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_parse_in_every_spelling() {
        assert_eq!(StreamId::parse_range(b"5", 0).unwrap(), StreamId::new(5, 0));
        assert_eq!(StreamId::parse_range(b"5", u64::MAX).unwrap(), StreamId::new(5, u64::MAX));
        assert_eq!(StreamId::parse_range(b"5-3", 0).unwrap(), StreamId::new(5, 3));
        assert_eq!(StreamId::parse_range(b"-", 9).unwrap(), StreamId::MIN);
        assert_eq!(StreamId::parse_range(b"+", 9).unwrap(), StreamId::MAX);
        assert!(StreamId::parse_range(b"5-", 0).is_err());
        assert!(StreamId::parse_range(b"-5", 0).is_err());
        assert!(StreamId::parse_range(b"18446744073709551616", 0).is_err());
        assert!(StreamId::parse_strict(b"+").is_err());
        assert_eq!(AddId::parse(b"7-*").unwrap(), AddId::AutoSeq(7));
        assert_eq!(AddId::parse(b"*").unwrap(), AddId::Auto);
        assert!(AddId::parse(b"*-1").is_err());
    }

    #[test]
    fn exclusive_bounds_step_past_their_id() {
        assert_eq!(parse_bound(b"(1-1", true).unwrap(), Some(StreamId::new(1, 2)));
        assert_eq!(parse_bound(b"(1-0", false).unwrap(), Some(StreamId::new(0, u64::MAX)));
        assert_eq!(parse_bound(b"(0-0", false).unwrap(), None);
        assert!(parse_bound(b"(-", true).is_err());
        assert_eq!(parse_bound(b"(18446744073709551615-18446744073709551615", true).unwrap(), None);
    }
}
