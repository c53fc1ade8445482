//! The typed reply every command builds, before it is encoded for the client's protocol.

use bytes::Bytes;

/// A reply, independent of protocol version. [`crate::resp::encode`] writes it as RESP2 or
/// RESP3; the RESP2 forms of the RESP3-only types are noted on each variant.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`: a simple string, which never contains `\r` or `\n`.
    Simple(Bytes),
    /// `-ERR ...`: the whole text, including its code (`ERR`, `WRONGTYPE`, ...).
    Error(Bytes),
    /// `:42`.
    Integer(i64),
    /// `$3\r\nfoo`.
    Bulk(Bytes),
    /// The null reply: `$-1` in RESP2, `_` in RESP3.
    Null,
    /// The null array: `*-1` in RESP2, `_` in RESP3.
    NullArray,
    /// `*<n>` followed by the elements.
    Array(Vec<Reply>),
    /// `%<n>`: a RESP3 map; a flat array of keys and values in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// `~<n>`: a RESP3 set; an array in RESP2.
    Set(Vec<Reply>),
    /// `,3.14`: a RESP3 double; a bulk string in RESP2.
    Double(f64),
    /// `#t` / `#f`: a RESP3 boolean; the integer 1 or 0 in RESP2.
    Boolean(bool),
    /// `=<n>\r\ntxt:...`: RESP3 verbatim text with its three-letter format; a bulk in RESP2.
    Verbatim(&'static str, Bytes),
    /// `><n>`: an out-of-band RESP3 push; an array in RESP2.
    Push(Vec<Reply>),
    /// Bytes already encoded for the client's protocol, written as they are (a shared
    /// pub/sub message, for instance).
    Raw(Bytes),
}

impl Reply {
    /// `+OK`.
    pub fn ok() -> Reply {
        Reply::Simple(Bytes::from_static(b"OK"))
    }

    /// A simple string from static text.
    pub fn simple(text: &'static str) -> Reply {
        Reply::Simple(Bytes::from_static(text.as_bytes()))
    }

    /// An error reply; `text` includes its code, e.g. `"ERR syntax error"`.
    pub fn error(text: impl Into<String>) -> Reply {
        Reply::Error(Bytes::from(text.into()))
    }

    /// A bulk string copied from `bytes`.
    pub fn bulk(bytes: impl AsRef<[u8]>) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(bytes.as_ref()))
    }

    /// A bulk string, or the null reply for `None`.
    pub fn bulk_or_null(bytes: Option<Bytes>) -> Reply {
        bytes.map_or(Reply::Null, Reply::Bulk)
    }

    /// An array of bulk strings.
    pub fn bulks<I: IntoIterator<Item = Bytes>>(items: I) -> Reply {
        Reply::Array(items.into_iter().map(Reply::Bulk).collect())
    }

    /// Whether this reply is an error.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

impl From<i64> for Reply {
    fn from(value: i64) -> Self {
        Reply::Integer(value)
    }
}

impl From<usize> for Reply {
    fn from(value: usize) -> Self {
        Reply::Integer(i64::try_from(value).unwrap_or(i64::MAX))
    }
}

impl From<bool> for Reply {
    /// Redis's many "1 if it happened, 0 if not" integer replies.
    fn from(value: bool) -> Self {
        Reply::Integer(i64::from(value))
    }
}
