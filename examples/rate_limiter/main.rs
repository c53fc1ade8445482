//! A token-bucket rate limiter: one Lua script (`bucket.lua`), loaded once with `SCRIPT LOAD` and
//! called by its SHA1 with `EVALSHA`, so each check is one round trip and atomic on the server.
//! Run it with:
//!
//! ```text
//! cargo run --release --example rate_limiter            # starts Herald in-process
//! cargo run --release --example rate_limiter -- redis://127.0.0.1:6379/   # or any server
//! ```
//!
//! It shows a burst being cut at the bucket's capacity, a client waiting exactly as long as the
//! script tells it to, 8 concurrent clients sharing one bucket without ever over-spending it,
//! and the `NOSCRIPT` fallback after `SCRIPT FLUSH`. Every step checks its outcome and the run
//! exits non-zero if one does not hold.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[path = "../support/embedded.rs"]
mod embedded;

use std::time::Duration;

use redis::aio::MultiplexedConnection;

/// The limiter itself: see the comments at its top for its keys, arguments and reply.
const SCRIPT: &str = include_str!("bucket.lua");

/// One bucket's parameters: how many tokens it holds and how fast it refills.
#[derive(Clone, Copy)]
struct Limit {
    capacity: u32,
    per_second: f64,
}

/// The script's reply: whether the request may go ahead, tokens left, ms until the next one.
#[derive(Debug)]
struct Decision {
    allowed: bool,
    tokens: i64,
    wait_ms: u64,
}

/// Spends one token of `key`'s bucket by `EVALSHA`, loading the script again if the server has
/// lost it (`SCRIPT FLUSH`, a restart): the usual `NOSCRIPT` fallback.
async fn take(con: &mut MultiplexedConnection, sha: &mut String, key: &str, limit: Limit) -> Decision {
    let call = |sha: &str| {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(sha).arg(1).arg(key).arg(limit.capacity).arg(limit.per_second).arg(1);
        cmd
    };
    let reply: redis::RedisResult<(i64, i64, u64)> = call(sha).query_async(con).await;
    let (allowed, tokens, wait_ms) = match reply {
        Err(err) if err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
            println!("  NOSCRIPT: the server lost the script; loading it again");
            *sha = load(con).await;
            call(sha).query_async(con).await.expect("EVALSHA after reload")
        }
        reply => reply.expect("EVALSHA"),
    };
    Decision { allowed: allowed == 1, tokens, wait_ms }
}

/// `SCRIPT LOAD`: the server compiles and caches the script and answers with its SHA1.
async fn load(con: &mut MultiplexedConnection) -> String {
    redis::cmd("SCRIPT").arg("LOAD").arg(SCRIPT).query_async(con).await.expect("SCRIPT LOAD")
}

#[tokio::main]
async fn main() {
    let url = embedded::server_url(std::env::args().nth(1)).await;
    let client = redis::Client::open(url.as_str()).expect("valid URL");
    let mut con = client.get_multiplexed_async_connection().await.expect("connect");
    let keys = ["ratelimit:alice", "ratelimit:bob", "ratelimit:shared"];
    let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut con).await.expect("DEL");

    let mut sha = load(&mut con).await;
    println!("SCRIPT LOAD -> {sha}");

    // 1. A burst of 25 requests against a bucket of 10 refilling at 2/s: the first 10 pass.
    let limit = Limit { capacity: 10, per_second: 2.0 };
    let mut passed = 0;
    let mut last = None;
    for _ in 0..25 {
        let decision = take(&mut con, &mut sha, keys[0], limit).await;
        passed += u32::from(decision.allowed);
        last = Some(decision);
    }
    let last = last.expect("25 requests");
    println!("burst: {passed} of 25 allowed (capacity {}), then {last:?}", limit.capacity);
    assert!((10..=11).contains(&passed), "a burst passes about one bucket's worth");
    assert!(!last.allowed && last.wait_ms > 0 && last.wait_ms <= 500, "denied with a wait of at most 1/rate");

    // 2. Buckets are per key: bob is not limited by alice's burst.
    let bob = take(&mut con, &mut sha, keys[1], limit).await;
    println!("bob's first request: {bob:?}");
    assert!(bob.allowed && bob.tokens == 9);

    // 3. Waiting as long as the script said is enough for the next request to pass.
    tokio::time::sleep(Duration::from_millis(last.wait_ms)).await;
    let after = take(&mut con, &mut sha, keys[0], limit).await;
    println!("after waiting {} ms: {after:?}", last.wait_ms);
    assert!(after.allowed);

    // 4. 8 clients, 20 requests each, one bucket of 50 that barely refills: exactly 50 pass,
    //    because each check-and-spend runs atomically on the server.
    let shared = Limit { capacity: 50, per_second: 0.001 };
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let mut con = client.get_multiplexed_async_connection().await.expect("connect");
        let mut sha = sha.clone();
        tasks.push(tokio::spawn(async move {
            let mut passed = 0u32;
            for _ in 0..20 {
                passed += u32::from(take(&mut con, &mut sha, "ratelimit:shared", shared).await.allowed);
            }
            passed
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("client task");
    }
    println!("8 concurrent clients x 20 requests on one bucket of 50: {total} allowed");
    assert_eq!(total, 50, "no token is spent twice");

    // 5. SCRIPT FLUSH empties the server's script cache; the next call reloads the script.
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut con).await.expect("SCRIPT FLUSH");
    let reloaded = take(&mut con, &mut sha, keys[1], limit).await;
    println!("after SCRIPT FLUSH: {reloaded:?}");
    assert!(reloaded.allowed);

    let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut con).await.expect("DEL");
    println!("rate limiter: all checks passed");
}
