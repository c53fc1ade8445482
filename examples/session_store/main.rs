//! A session store on Herald hashes: a session is a hash (`HSET`/`HGETALL`) whose key expires
//! after a period of inactivity; every request renews it (sliding expiry with `EXPIRE`).
//!
//! ```text
//! cargo run --release --example session_store                           # Herald in-process
//! cargo run --release --example session_store -- redis://127.0.0.1:6379/   # or any server
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../support/embedded.rs"]
mod embedded;

use redis::AsyncCommands;
use std::collections::HashMap;
use std::time::Duration;

/// Idle time after which a session is gone, in seconds.
const IDLE_TTL: i64 = 2;

/// Creates a session for `user` and returns its key.
async fn login(c: &mut redis::aio::MultiplexedConnection, user: &str) -> String {
    let key = format!("session:{:016x}", rand::random::<u64>());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    // One atomic step: the session never exists without its expiry.
    let () = redis::pipe()
        .atomic()
        .hset_multiple(&key, &[("user", user.to_string()), ("created", now.to_string()), ("cart_items", "0".into())])
        .ignore()
        .expire(&key, IDLE_TTL)
        .ignore()
        .query_async(c)
        .await
        .unwrap();
    key
}

/// Serves one request on the session: reads it, changes it, and renews its idle timeout.
/// Returns `None` when the session has expired.
async fn request(c: &mut redis::aio::MultiplexedConnection, key: &str, add_to_cart: i64) -> Option<HashMap<String, String>> {
    let (session, renewed): (HashMap<String, String>, bool) =
        redis::pipe().atomic().hgetall(key).expire(key, IDLE_TTL).query_async(c).await.unwrap();
    if !renewed {
        return None; // EXPIRE on a missing key answers 0: the session is gone
    }
    let _: i64 = c.hincr(key, "cart_items", add_to_cart).await.unwrap();
    Some(session)
}

#[tokio::main]
async fn main() {
    let url = embedded::server_url(std::env::args().nth(1)).await;
    let mut c = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();

    let key = login(&mut c, "ada").await;
    println!("logged in: {key}");
    // Requests come more often than the idle timeout, so the session lives on.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let session = request(&mut c, &key, 1).await.expect("an active session stays alive");
        let ttl: i64 = c.ttl(&key).await.unwrap();
        println!("request served for {} (cart {}), ttl renewed to {ttl}s", session["user"], session["cart_items"]);
    }
    // Then the user goes idle past the timeout.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(request(&mut c, &key, 1).await.is_none(), "an idle session must expire");
    println!("after {}s idle the session expired", IDLE_TTL);
}
