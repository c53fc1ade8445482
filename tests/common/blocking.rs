//! Support for blocking-command tests: know when clients are blocked without sleeping for it,
//! and read replies that arrive after a wake-up.

use super::{RawClient, TestServer};
use std::time::Duration;

/// Waits (bounded) until exactly `n` clients are blocked.
pub async fn wait_blocked(server: &TestServer, n: usize) {
    for _ in 0..2000 {
        if server.shared.keyspace.lock().blocking.blocked_clients() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("expected {n} blocked clients, have {}", server.shared.keyspace.lock().blocking.blocked_clients());
}

/// Reads a reply that must arrive; a bounded safety net, not a timing assertion.
pub async fn reply(client: &mut RawClient) -> Vec<u8> {
    tokio::time::timeout(Duration::from_secs(10), client.read_reply()).await.expect("reply in time").expect("connection open")
}
