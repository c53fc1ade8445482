//! Helpers shared by the `stream_*` tests (included with `#[path]`; as a test crate of its
//! own it has no tests). Replies are rendered as compact text so assertions read like the
//! Redis documentation: `["1-1", ["f", "v"]]`, `nil`, `(error) ERR ...`, `{"length": 2}`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

#[path = "common/mod.rs"]
mod common;

pub use common::*;

use std::time::Duration;

/// Sends a command whose words are split on spaces and renders its reply.
pub async fn call(client: &mut RawClient, command: &str) -> String {
    let words: Vec<&[u8]> = command.split(' ').filter(|w| !w.is_empty()).map(str::as_bytes).collect();
    let bytes = tokio::time::timeout(Duration::from_secs(10), client.call(&words)).await.expect("reply in time");
    render(&bytes)
}

/// Renders one RESP2/RESP3 reply.
pub fn render(bytes: &[u8]) -> String {
    let mut at = 0;
    let out = render_at(bytes, &mut at);
    assert_eq!(at, bytes.len(), "trailing bytes after reply");
    out
}

fn line<'a>(bytes: &'a [u8], at: &mut usize) -> &'a str {
    let end = bytes[*at..].windows(2).position(|w| w == b"\r\n").unwrap() + *at;
    let text = std::str::from_utf8(&bytes[*at + 1..end]).unwrap();
    *at = end + 2;
    text
}

fn render_at(bytes: &[u8], at: &mut usize) -> String {
    let kind = bytes[*at];
    let head = line(bytes, at);
    match kind {
        b'+' => head.to_string(),
        b'-' => format!("(error) {head}"),
        b':' | b',' => head.to_string(),
        b'_' => "nil".to_string(),
        b'#' => head.to_string(),
        b'$' => {
            let len: i64 = head.parse().unwrap();
            if len < 0 {
                return "nil".to_string();
            }
            let len = len as usize;
            let text = String::from_utf8_lossy(&bytes[*at..*at + len]).into_owned();
            *at += len + 2;
            format!("{text:?}")
        }
        b'*' | b'~' | b'>' => {
            let n: i64 = head.parse().unwrap();
            if n < 0 {
                return "nil".to_string();
            }
            let items: Vec<String> = (0..n).map(|_| render_at(bytes, at)).collect();
            format!("[{}]", items.join(", "))
        }
        b'%' => {
            let n: i64 = head.parse().unwrap();
            let items: Vec<String> = (0..n)
                .map(|_| {
                    let k = render_at(bytes, at);
                    let v = render_at(bytes, at);
                    format!("{k}: {v}")
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        other => panic!("unexpected reply type {:?}", other as char),
    }
}

/// Waits (bounded) until exactly `n` clients are blocked; a safety net, not a timing assertion.
pub async fn wait_blocked(server: &TestServer, n: usize) {
    for _ in 0..5000 {
        if server.shared.keyspace.lock().blocking.blocked_clients() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("expected {n} blocked clients, have {}", server.shared.keyspace.lock().blocking.blocked_clients());
}

/// Reads a reply that must arrive, rendered.
pub async fn next_reply(client: &mut RawClient) -> String {
    let bytes = tokio::time::timeout(Duration::from_secs(10), client.read_reply()).await.expect("reply in time").expect("connection open");
    render(&bytes)
}
