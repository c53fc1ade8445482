//! The values a key can hold.

use bytes::Bytes;

/// The longest string Redis stores in its `embstr` encoding.
const EMBSTR_MAX_LEN: usize = 44;

/// A key's value. New data types add a variant here and a module beside this one.
#[derive(Debug, Clone)]
pub enum Value {
    /// A string, which may hold an integer.
    String(StringValue),
    /// A list (see [`super::list`] for its packed layout).
    List(super::list::List),
    /// A stream (see [`super::stream`] for its block layout).
    Stream(Box<super::stream::Stream>),
    /// A hash (see [`super::hash`] for its compact and hashed forms).
    Hash(super::hash::Hash),
    /// A set (see [`super::set`] for its intset, compact and hashed forms).
    Set(super::set::Set),
    /// A sorted set (see [`super::zset`] for its skip list).
    ZSet(Box<super::zset::ZSet>),
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

/// A string value in the representation Redis would choose for it.
#[derive(Debug, Clone, PartialEq)]
pub enum StringValue {
    /// A canonical decimal integer (`int` encoding): what `INCR` and `SET k 42` store.
    Int(i64),
    /// Bytes stored as written by `SET` (`embstr` up to 44 bytes, else `raw`).
    Bytes(Bytes),
    /// Bytes that were modified in place (`APPEND`, `SETRANGE`): always `raw`, as in Redis.
    Raw(Bytes),
}

impl StringValue {
    /// The value `SET` stores for `bytes`: an integer when the bytes are one in canonical form.
    pub fn from_bytes(bytes: &[u8]) -> StringValue {
        if bytes.len() <= 20 {
            if let Some(n) = crate::resp::parse_i64(bytes) {
                return StringValue::Int(n);
            }
        }
        StringValue::Bytes(Bytes::copy_from_slice(bytes))
    }

    /// The string's bytes (integers are formatted).
    pub fn to_bytes(&self) -> Bytes {
        match self {
            StringValue::Int(n) => Bytes::copy_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
            StringValue::Bytes(b) | StringValue::Raw(b) => b.clone(),
        }
    }

    /// The string's length in bytes.
    pub fn len(&self) -> usize {
        match self {
            StringValue::Int(n) => itoa::Buffer::new().format(*n).len(),
            StringValue::Bytes(b) | StringValue::Raw(b) => b.len(),
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
            StringValue::Bytes(b) | StringValue::Raw(b) => crate::resp::parse_i64(b),
        }
    }

    /// The `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        match self {
            StringValue::Int(_) => "int",
            StringValue::Bytes(b) if b.len() <= EMBSTR_MAX_LEN => "embstr",
            StringValue::Bytes(_) | StringValue::Raw(_) => "raw",
        }
    }
}
