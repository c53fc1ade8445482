//! Support for the key-command tests (`keys_commands.rs`, `keys_expiry.rs`): commands written
//! as one line of text, stored values, and a keyevent listener.

use super::{RawClient, TestServer};
use herald::keyspace::{StringValue, Value};

/// Runs a space-separated command on a raw connection and returns the reply as text.
pub async fn run(raw: &mut RawClient, line: &str) -> String {
    let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
    String::from_utf8_lossy(&raw.call(&args).await).into_owned()
}

/// Runs each `(command, expected reply)` pair in order, failing with the command on mismatch.
pub async fn expect_all(raw: &mut RawClient, cases: &[(&str, &str)]) {
    for (line, expected) in cases {
        assert_eq!(run(raw, line).await, *expected, "reply to `{line}`");
    }
}

/// A string value holding `text`, as SET would store it.
pub fn string(text: &str) -> Value {
    Value::String(StringValue::from_bytes(text.as_bytes()))
}

/// A server publishing `flags` events, and a RESP2 listener on every keyevent channel.
pub async fn listening(flags: &str) -> (TestServer, RawClient) {
    let server = super::start().await;
    server.shared.config.write().set("notify-keyspace-events", flags).unwrap();
    let mut listener = server.raw().await;
    listener.call(&[b"PSUBSCRIBE", b"__keyevent@*"]).await;
    (server, listener)
}
