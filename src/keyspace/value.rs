//! The values a key can hold.
//!
//! A [`Value`] is 24 bytes, so that a key's node in the index stays small: strings of up to
//! [`SHORT_MAX`] bytes sit inline, longer ones in one exact-size block; hashes and sorted sets
//! are 16-byte handles whose compact form is a single block (small ones are many, and a box
//! would add a block to each), and the other types sit behind a `Box` (their headers are 40-56
//! bytes, and a key holding one already owns allocations of its own).

use bytes::Bytes;

/// The longest string Redis stores in its `embstr` encoding.
const EMBSTR_MAX_LEN: usize = 44;

/// The longest string stored inline in its [`StringValue`].
pub const SHORT_MAX: usize = 22;

/// A key's value. New data types add a variant here and a module beside this one.
#[derive(Debug, Clone)]
pub enum Value {
    /// A string, which may hold an integer.
    String(StringValue),
    /// A list (see [`super::list`] for its packed layout).
    List(Box<super::list::List>),
    /// A stream (see [`super::stream`] for its block layout).
    Stream(Box<super::stream::Stream>),
    /// A hash (see [`super::hash`] for its compact and hashed forms).
    Hash(super::hash::Hash),
    /// A set (see [`super::set`] for its intset, compact and hashed forms).
    Set(Box<super::set::Set>),
    /// A sorted set (see [`super::zset`] for its skip list).
    ZSet(super::zset::ZSet),
}

impl Value {
    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Stream(_) => "stream",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::String(s) => s.encoding(),
            Value::List(l) => l.encoding(),
            Value::Stream(_) => "stream",
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }
}

/// Up to [`SHORT_MAX`] bytes stored inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ShortBytes {
    len: u8,
    bytes: [u8; SHORT_MAX],
}

impl ShortBytes {
    /// `bytes` inline, if they fit.
    pub fn new(bytes: &[u8]) -> Option<ShortBytes> {
        let mut buf = [0u8; SHORT_MAX];
        buf.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(ShortBytes { len: bytes.len() as u8, bytes: buf })
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

impl std::fmt::Debug for ShortBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", Bytes::copy_from_slice(self.as_slice()))
    }
}

/// A string value in the representation Redis would choose for it.
#[derive(Debug, Clone, PartialEq)]
pub enum StringValue {
    /// A canonical decimal integer (`int` encoding): what `INCR` and `SET k 42` store.
    Int(i64),
    /// Up to [`SHORT_MAX`] bytes as written by `SET`, inline (`embstr`).
    Short(ShortBytes),
    /// Longer bytes as written by `SET` (`embstr` up to 44 bytes, else `raw`).
    Long(Box<[u8]>),
    /// Bytes that were modified in place (`APPEND`, `SETRANGE`): always `raw`, as in Redis.
    /// A `Vec` (behind a box, to keep the value small) so that repeated appends grow it in
    /// place.
    Raw(Box<Vec<u8>>),
}

impl StringValue {
    /// The value `SET` stores for `bytes`: an integer when the bytes are one in canonical form.
    pub fn from_bytes(bytes: &[u8]) -> StringValue {
        if bytes.len() <= 20 {
            if let Some(n) = crate::resp::parse_i64(bytes) {
                return StringValue::Int(n);
            }
        }
        StringValue::text(bytes)
    }

    /// `bytes` stored as text even if they read as an integer (`INCRBYFLOAT`'s result).
    pub fn text(bytes: &[u8]) -> StringValue {
        match ShortBytes::new(bytes) {
            Some(short) => StringValue::Short(short),
            None => StringValue::Long(bytes.into()),
        }
    }

    /// A string modified in place (`raw` whatever its length).
    pub fn raw(bytes: Vec<u8>) -> StringValue {
        StringValue::Raw(Box::new(bytes))
    }

    /// The string's bytes as a growable buffer, for an in-place edit: the value becomes `raw`
    /// (if it was not already) and the edit works on its own buffer.
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, StringValue::Raw(_)) {
            let bytes = std::mem::replace(self, StringValue::Int(0)).into_vec();
            *self = StringValue::raw(bytes);
        }
        match self {
            StringValue::Raw(buf) => buf,
            // Just made raw above; an empty buffer keeps this total without a panic.
            _ => {
                *self = StringValue::raw(Vec::new());
                self.make_raw()
            }
        }
    }

    /// The string's bytes in a `Vec`.
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            StringValue::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
            StringValue::Short(s) => s.as_slice().to_vec(),
            StringValue::Long(b) => b.into_vec(),
            StringValue::Raw(b) => *b,
        }
    }

    /// The string's bytes (integers are formatted), in a new buffer.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            StringValue::Int(n) => Bytes::copy_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
            StringValue::Short(s) => Bytes::copy_from_slice(s.as_slice()),
            StringValue::Long(b) => Bytes::copy_from_slice(b),
            StringValue::Raw(b) => Bytes::copy_from_slice(b),
        }
    }

    /// The stored bytes, unless the value is an integer.
    pub fn stored_bytes(&self) -> Option<&[u8]> {
        match self {
            StringValue::Int(_) => None,
            StringValue::Short(s) => Some(s.as_slice()),
            StringValue::Long(b) => Some(b),
            StringValue::Raw(b) => Some(b),
        }
    }

    /// The string's length in bytes.
    pub fn len(&self) -> usize {
        match self {
            StringValue::Int(n) => itoa::Buffer::new().format(*n).len(),
            StringValue::Short(s) => s.as_slice().len(),
            StringValue::Long(b) => b.len(),
            StringValue::Raw(b) => b.len(),
        }
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value as an integer, if it is one (`INCR`'s reading).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            StringValue::Int(n) => Some(*n),
            StringValue::Short(s) => crate::resp::parse_i64(s.as_slice()),
            StringValue::Long(b) => crate::resp::parse_i64(b),
            StringValue::Raw(b) => crate::resp::parse_i64(b),
        }
    }

    /// The `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        match self {
            StringValue::Int(_) => "int",
            StringValue::Short(_) => "embstr",
            StringValue::Long(b) if b.len() <= EMBSTR_MAX_LEN => "embstr",
            StringValue::Long(_) | StringValue::Raw(_) => "raw",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_stay_24_bytes() {
        assert_eq!(std::mem::size_of::<StringValue>(), 24);
        assert_eq!(std::mem::size_of::<Value>(), 24);
        // Hashes and sorted sets sit in the value unboxed (see the module docs).
        assert_eq!(std::mem::size_of::<super::super::hash::Hash>(), 16);
        assert_eq!(std::mem::size_of::<super::super::zset::ZSet>(), 16);
    }

    #[test]
    fn strings_keep_their_bytes_and_encodings_in_every_form() {
        for (input, encoding) in [
            (&b"42"[..], "int"),
            (b"", "embstr"),
            (b"value", "embstr"),
            (&[b'x'; SHORT_MAX], "embstr"),
            (&[b'x'; SHORT_MAX + 1], "embstr"),
            (&[b'x'; EMBSTR_MAX_LEN + 1], "raw"),
        ] {
            let value = StringValue::from_bytes(input);
            assert_eq!(value.encoding(), encoding);
            assert_eq!(value.to_bytes(), Bytes::copy_from_slice(input));
            assert_eq!(value.len(), input.len());
            assert_eq!(value.clone().into_vec(), input.to_vec());
        }
        assert_eq!(StringValue::text(b"12").encoding(), "embstr");
        assert_eq!(StringValue::text(b"12").as_i64(), Some(12));
        assert_eq!(StringValue::raw(b"ab".to_vec()).encoding(), "raw");
        let mut value = StringValue::from_bytes(b"12");
        value.make_raw().extend_from_slice(b"34");
        assert_eq!(value.encoding(), "raw");
        assert_eq!(value.to_bytes(), Bytes::from_static(b"1234"));
    }
}
