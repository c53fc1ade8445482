//! The gateway's messages, in both encodings (`herald.json` text frames, `herald.msgpack`
//! binary frames), and the conversion of command replies into them. `protocol/websocket.md`
//! specifies each one; `protocol/vectors/` holds examples both encodings must round-trip.

use crate::resp::Reply;
use bytes::Bytes;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The encoding a connection negotiated with its subprotocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `herald.json`: UTF-8 JSON in text frames (the default when no subprotocol is offered).
    Json,
    /// `herald.msgpack`: MessagePack maps in binary frames.
    MsgPack,
}

impl Encoding {
    /// The subprotocol name.
    pub fn subprotocol(self) -> &'static str {
        match self {
            Encoding::Json => "herald.json",
            Encoding::MsgPack => "herald.msgpack",
        }
    }

    /// The encoding a subprotocol name stands for.
    pub fn from_subprotocol(name: &str) -> Option<Encoding> {
        match name.trim() {
            "herald.json" => Some(Encoding::Json),
            "herald.msgpack" => Some(Encoding::MsgPack),
            _ => None,
        }
    }
}

/// A byte string: a JSON string (invalid UTF-8 replaced by U+FFFD), or in MessagePack a `str`
/// when it is UTF-8 and `bin` otherwise. Accepts strings, binaries and numbers on input.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Data(pub Bytes);

impl Serialize for Data {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) if serializer.is_human_readable() => serializer.serialize_str(&String::from_utf8_lossy(&self.0)),
            Err(_) => serializer.serialize_bytes(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Data {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DataVisitor;
        impl<'de> Visitor<'de> for DataVisitor {
            type Value = Data;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, binary or number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Data, E> {
                Ok(Data(Bytes::copy_from_slice(v.as_bytes())))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Data, E> {
                Ok(Data(Bytes::copy_from_slice(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Data, E> {
                Ok(Data(Bytes::from(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Data, E> {
                Ok(Data(Bytes::from(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Data, E> {
                Ok(Data(Bytes::from(v.to_string())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Data, A::Error> {
                // A JSON array of byte values, for binary data in JSON.
                let mut out = Vec::new();
                while let Some(byte) = seq.next_element::<u8>()? {
                    out.push(byte);
                }
                Ok(Data(Bytes::from(out)))
            }
        }
        deserializer.deserialize_any(DataVisitor)
    }
}

impl From<&str> for Data {
    fn from(text: &str) -> Self {
        Data(Bytes::copy_from_slice(text.as_bytes()))
    }
}

/// A request id: a number or a string, echoed unchanged by the reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Id {
    /// A number (what the JS client sends).
    Number(i64),
    /// A string.
    Text(String),
}

/// What every request carries besides its body; read first so that a malformed body can still
/// be answered with the request's id.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    /// The request id.
    #[serde(default)]
    pub id: Option<Id>,
}

/// Names of channels, patterns and shard channels.
#[derive(Debug, Default, Deserialize)]
pub struct Names {
    /// SUBSCRIBE channels.
    #[serde(default)]
    pub channels: Vec<String>,
    /// PSUBSCRIBE patterns.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// SSUBSCRIBE shard channels.
    #[serde(default)]
    pub shard_channels: Vec<String>,
}

impl Names {
    /// Whether no name is given (UNSUBSCRIBE then removes everything).
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.patterns.is_empty() && self.shard_channels.is_empty()
    }
}

/// A request's body, by its `type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Body {
    /// `{type: "subscribe", channels?, patterns?, shard_channels?}`.
    Subscribe(Names),
    /// `{type: "unsubscribe", channels?, patterns?, shard_channels?}`; all empty: everything.
    Unsubscribe(Names),
    /// `{type: "publish", channel, message, shard?}`: PUBLISH (SPUBLISH with `shard: true`).
    Publish {
        /// The channel.
        channel: String,
        /// The message.
        message: Data,
        /// SPUBLISH instead of PUBLISH.
        #[serde(default)]
        shard: bool,
    },
    /// `{type: "follow", stream, from?}`: entries after `from` (`"$"`, the default: after the
    /// current last entry), then every new one, as `entries` events.
    Follow {
        /// The stream key.
        stream: String,
        /// The last ID already seen, or `$`.
        #[serde(default)]
        from: Option<String>,
    },
    /// `{type: "unfollow", stream}`.
    Unfollow {
        /// The stream key.
        stream: String,
    },
    /// `{type: "group_read", stream, group, consumer, count?, from?, noack?, block?}`:
    /// XREADGROUP, with `block` (milliseconds, 0 = no limit) like `XREADGROUP BLOCK`.
    GroupRead {
        /// The stream key.
        stream: String,
        /// The consumer group.
        group: String,
        /// The consumer.
        consumer: String,
        /// At most this many entries.
        #[serde(default)]
        count: Option<u64>,
        /// `>` (the default): new entries; an ID: this consumer's pending entries after it.
        #[serde(default)]
        from: Option<String>,
        /// Do not add the entries to the pending list.
        #[serde(default)]
        noack: bool,
        /// Wait up to this many milliseconds (0: no limit) for new entries when there are
        /// none, like `XREADGROUP BLOCK`; absent: never wait.
        #[serde(default)]
        block: Option<u64>,
    },
    /// `{type: "ack", stream, group, ids}`: XACK.
    Ack {
        /// The stream key.
        stream: String,
        /// The consumer group.
        group: String,
        /// The IDs to acknowledge.
        ids: Vec<String>,
    },
    /// `{type: "claim", stream, group, consumer, min_idle_ms, ids?, start?, count?}`: XCLAIM of
    /// `ids`, or without ids XAUTOCLAIM from `start` (default `0-0`).
    Claim {
        /// The stream key.
        stream: String,
        /// The consumer group.
        group: String,
        /// The consumer taking the entries.
        consumer: String,
        /// Only entries idle at least this long.
        min_idle_ms: u64,
        /// The entries to claim (XCLAIM).
        #[serde(default)]
        ids: Vec<String>,
        /// Where XAUTOCLAIM starts.
        #[serde(default)]
        start: Option<String>,
        /// XAUTOCLAIM's COUNT.
        #[serde(default)]
        count: Option<u64>,
    },
    /// `{type: "command", args}`: any allowed command, as RESP would send it.
    Command {
        /// The command name and its arguments.
        args: Vec<Data>,
    },
    /// `{type: "ping"}`: replies `"pong"`.
    Ping,
}

/// A stream entry as events and replies carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The entry ID.
    pub id: String,
    /// Its fields and values, in order (`null` for a pending entry deleted since).
    pub fields: Option<Vec<(Data, Data)>>,
}

/// A structured error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorBody {
    /// `ERR`, `WRONGTYPE`, `NOGROUP`, ... as Redis says them, or a gateway code
    /// (`BADREQUEST`, `FORBIDDEN`).
    pub code: String,
    /// The rest of the text.
    pub message: String,
}

impl ErrorBody {
    /// A gateway error.
    pub fn new(code: &str, message: impl Into<String>) -> ErrorBody {
        ErrorBody { code: code.to_string(), message: message.into() }
    }

    /// Splits a Redis error text into its code and message.
    pub fn from_redis(text: &[u8]) -> ErrorBody {
        let text = String::from_utf8_lossy(text);
        match text.split_once(' ') {
            Some((code, rest)) if !code.is_empty() && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') => {
                ErrorBody { code: code.to_string(), message: rest.to_string() }
            }
            _ => ErrorBody { code: "ERR".into(), message: text.into_owned() },
        }
    }
}

/// Everything the server sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outgoing {
    /// The answer to one request: `result` on success, `error` otherwise.
    Reply {
        /// The request's id (`null` when it could not be read).
        id: Option<Id>,
        /// The result.
        #[serde(skip_serializing_if = "Option::is_none")]
        result: Option<Value>,
        /// The error.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<ErrorBody>,
    },
    /// A message on a subscribed channel.
    Message {
        /// The channel.
        channel: Data,
        /// The payload.
        data: Data,
    },
    /// A message on a channel matching a subscribed pattern.
    Pmessage {
        /// The pattern.
        pattern: Data,
        /// The channel.
        channel: Data,
        /// The payload.
        data: Data,
    },
    /// A message on a subscribed shard channel.
    Smessage {
        /// The channel.
        channel: Data,
        /// The payload.
        data: Data,
    },
    /// New entries of a followed stream, in ID order.
    Entries {
        /// The stream key.
        stream: Data,
        /// The entries.
        entries: Vec<Entry>,
    },
}

impl Outgoing {
    /// A successful reply.
    pub fn ok(id: Option<Id>, result: Value) -> Outgoing {
        Outgoing::Reply { id, result: Some(result), error: None }
    }

    /// An error reply.
    pub fn error(id: Option<Id>, error: ErrorBody) -> Outgoing {
        Outgoing::Reply { id, result: None, error: Some(error) }
    }
}

/// A command's result, protocol-neutral: RESP3's types mapped onto JSON / MessagePack.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Null (RESP null, null array).
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A double.
    Float(f64),
    /// A string (simple, bulk, verbatim).
    Str(Data),
    /// An array, set or push.
    Array(Vec<Value>),
    /// A map (a JSON object; keys are turned into strings).
    Map(Vec<(Value, Value)>),
    /// An error inside an array (EXEC): `{"error": {code, message}}`.
    Error(ErrorBody),
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(n) => serializer.serialize_i64(*n),
            Value::Float(x) if x.is_finite() => serializer.serialize_f64(*x),
            // JSON has no infinities or NaN: send them as Redis writes them.
            Value::Float(x) => serializer.serialize_str(if x.is_nan() { "nan" } else if *x > 0.0 { "inf" } else { "-inf" }),
            Value::Str(data) => data.serialize(serializer),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(pairs) => {
                let mut map = serializer.serialize_map(Some(pairs.len()))?;
                for (key, value) in pairs {
                    map.serialize_entry(&MapKey(key), value)?;
                }
                map.end()
            }
            Value::Error(error) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("error", error)?;
                map.end()
            }
        }
    }
}

/// A map key: strings and numbers as they are, anything else as its JSON text.
struct MapKey<'a>(&'a Value);

impl Serialize for MapKey<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Str(data) => data.serialize(serializer),
            Value::Int(n) => serializer.serialize_str(&n.to_string()),
            other => serializer.serialize_str(&serde_json::to_string(other).unwrap_or_default()),
        }
    }
}

impl Value {
    /// Converts a command's reply. A top-level error is the caller's business
    /// ([`ErrorBody::from_redis`]); nested ones become [`Value::Error`].
    pub fn from_reply(reply: Reply) -> Value {
        match reply {
            Reply::Simple(b) | Reply::Bulk(b) | Reply::Verbatim(_, b) | Reply::Raw(b) => Value::Str(Data(b)),
            Reply::Error(text) => Value::Error(ErrorBody::from_redis(&text)),
            Reply::Integer(n) => Value::Int(n),
            Reply::Null | Reply::NullArray => Value::Null,
            Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => Value::Array(items.into_iter().map(Value::from_reply).collect()),
            Reply::Map(pairs) => Value::Map(pairs.into_iter().map(|(k, v)| (Value::from_reply(k), Value::from_reply(v))).collect()),
            Reply::Double(x) => Value::Float(x),
            Reply::Boolean(b) => Value::Bool(b),
        }
    }
}

/// Turns a reply into the request's answer: its error, or its value.
pub fn answer(id: Option<Id>, reply: Reply) -> Outgoing {
    match reply {
        Reply::Error(text) => Outgoing::error(id, ErrorBody::from_redis(&text)),
        other => Outgoing::ok(id, Value::from_reply(other)),
    }
}

/// Reads the entries of one stream from an XREAD / XREADGROUP / XRANGE-style entry array:
/// `[[id, [f, v, ...]], ...]` (a null body for a deleted pending entry).
pub fn entries_from_reply(reply: &Reply) -> Vec<Entry> {
    let Reply::Array(items) = reply else { return Vec::new() };
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        let Reply::Array(pair) = item else { continue };
        let (Some(Reply::Bulk(id)), body) = (pair.first(), pair.get(1)) else { continue };
        let fields = match body {
            Some(Reply::Array(flat)) => {
                let mut fields = Vec::with_capacity(flat.len() / 2);
                for chunk in flat.chunks(2) {
                    if let [Reply::Bulk(field), Reply::Bulk(value)] = chunk {
                        fields.push((Data(field.clone()), Data(value.clone())));
                    }
                }
                Some(fields)
            }
            _ => None,
        };
        entries.push(Entry { id: String::from_utf8_lossy(id).into_owned(), fields });
    }
    entries
}

/// Reads an XREAD / XREADGROUP reply (a RESP3 map, or RESP2's array of pairs) into
/// `(stream, entries)` pairs.
pub fn streams_from_reply(reply: &Reply) -> Vec<(Bytes, Vec<Entry>)> {
    let mut out = Vec::new();
    match reply {
        Reply::Map(pairs) => {
            for (key, entries) in pairs {
                if let Reply::Bulk(key) = key {
                    out.push((key.clone(), entries_from_reply(entries)));
                }
            }
        }
        Reply::Array(pairs) => {
            for pair in pairs {
                if let Reply::Array(pair) = pair {
                    if let (Some(Reply::Bulk(key)), Some(entries)) = (pair.first(), pair.get(1)) {
                        out.push((key.clone(), entries_from_reply(entries)));
                    }
                }
            }
        }
        _ => {}
    }
    out
}

impl Serialize for Entry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("id", &self.id)?;
        match &self.fields {
            None => map.serialize_entry("fields", &())?,
            Some(fields) => map.serialize_entry("fields", &Fields(fields))?,
        }
        map.end()
    }
}

/// Fields as a map (JSON object); a repeated field keeps its last value in JSON.
struct Fields<'a>(&'a [(Data, Data)]);

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (field, value) in self.0 {
            map.serialize_entry(field, value)?;
        }
        map.end()
    }
}

/// Why a frame could not be read as a request.
#[derive(Debug)]
pub struct DecodeError {
    /// The id, if the frame had a readable one.
    pub id: Option<Id>,
    /// What was wrong.
    pub message: String,
}

/// Reads one request from a frame's payload in `encoding`.
pub fn decode(encoding: Encoding, payload: &[u8]) -> Result<(Option<Id>, Body), DecodeError> {
    match encoding {
        Encoding::Json => {
            let envelope: Envelope = serde_json::from_slice(payload).map_err(|e| DecodeError { id: None, message: e.to_string() })?;
            let body: Body = serde_json::from_slice(payload).map_err(|e| DecodeError { id: envelope.id.clone(), message: e.to_string() })?;
            Ok((envelope.id, body))
        }
        Encoding::MsgPack => {
            let envelope: Envelope = rmp_serde::from_slice(payload).map_err(|e| DecodeError { id: None, message: e.to_string() })?;
            let body: Body = rmp_serde::from_slice(payload).map_err(|e| DecodeError { id: envelope.id.clone(), message: e.to_string() })?;
            Ok((envelope.id, body))
        }
    }
}

/// Writes one outgoing message in `encoding`.
pub fn encode(encoding: Encoding, message: &Outgoing) -> Result<Vec<u8>, String> {
    match encoding {
        Encoding::Json => serde_json::to_vec(message).map_err(|e| e.to_string()),
        Encoding::MsgPack => rmp_serde::to_vec_named(message).map_err(|e| e.to_string()),
    }
}

/// Encodes a pub/sub message as the gateway event a subscriber receives, from the parts of its
/// RESP push: `[message, channel, data]`, `[pmessage, pattern, channel, data]` or
/// `[smessage, channel, data]`, as a complete WebSocket frame (text for JSON, binary for
/// MessagePack; server frames are unmasked, so the bytes are the same for every subscriber).
/// The hub calls this once per encoding for each published message and queues the same bytes
/// for every WebSocket subscriber of that encoding. Anything else (nothing else is published)
/// encodes as empty bytes, which sessions skip.
pub fn encode_pubsub(encoding: Encoding, parts: &[&[u8]]) -> Bytes {
    let data = |part: &[u8]| Data(Bytes::copy_from_slice(part));
    let event = match parts {
        [b"message", channel, payload] => Outgoing::Message { channel: data(channel), data: data(payload) },
        [b"smessage", channel, payload] => Outgoing::Smessage { channel: data(channel), data: data(payload) },
        [b"pmessage", pattern, channel, payload] => Outgoing::Pmessage { pattern: data(pattern), channel: data(channel), data: data(payload) },
        _ => return Bytes::new(),
    };
    let opcode = match encoding {
        Encoding::Json => super::wire::Opcode::Text,
        Encoding::MsgPack => super::wire::Opcode::Binary,
    };
    encode(encoding, &event).map(|payload| super::wire::frame(opcode, &payload)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_encodes_as_the_documented_bytes() {
        let reply = Outgoing::ok(Some(Id::Number(1)), Value::Str(Data::from("pong")));
        assert_eq!(encode(Encoding::Json, &reply).ok(), Some(br#"{"type":"reply","id":1,"result":"pong"}"#.to_vec()));
        let hex: String = encode(Encoding::MsgPack, &reply).unwrap_or_default().iter().map(|b| format!("{b:02x} ")).collect();
        assert_eq!(hex.trim_end(), "83 a4 74 79 70 65 a5 72 65 70 6c 79 a2 69 64 01 a6 72 65 73 75 6c 74 a4 70 6f 6e 67");
    }

    #[test]
    fn a_request_reads_the_same_from_both_encodings() {
        let json = br#"{"id":"a","type":"publish","channel":"c","message":"m","shard":true}"#;
        let value: serde_json::Value = serde_json::from_slice(json).unwrap_or_default();
        let packed = rmp_serde::to_vec_named(&value).unwrap_or_default();
        for (encoding, bytes) in [(Encoding::Json, &json[..]), (Encoding::MsgPack, &packed[..])] {
            let decoded = decode(encoding, bytes);
            assert!(matches!(&decoded, Ok((Some(Id::Text(id)), Body::Publish { channel, shard: true, .. })) if id == "a" && channel == "c"), "{decoded:?}");
        }
    }

    #[test]
    fn redis_errors_split_into_code_and_message() {
        assert_eq!(ErrorBody::from_redis(b"WRONGTYPE Operation against a key"), ErrorBody::new("WRONGTYPE", "Operation against a key"));
        assert_eq!(ErrorBody::from_redis(b"weird"), ErrorBody::new("ERR", "weird"));
    }
}
