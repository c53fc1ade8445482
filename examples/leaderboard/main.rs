//! A game leaderboard on a Herald sorted set (`ZADD`, `ZINCRBY`, `ZREVRANGE ... WITHSCORES`,
//! `ZREVRANK`), with a sliding-window rate limiter on score submissions: each player's recent
//! submissions are a sorted set scored by time, trimmed with `ZREMRANGEBYSCORE` and counted
//! with `ZCARD`.
//!
//! ```text
//! cargo run --release --example leaderboard                           # Herald in-process
//! cargo run --release --example leaderboard -- redis://127.0.0.1:6379/   # or any server
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/embedded.rs"]
mod embedded;

use redis::AsyncCommands;

const BOARD: &str = "leaderboard";
/// At most this many submissions per player...
const LIMIT: usize = 5;
/// ...in any window of this many milliseconds.
const WINDOW_MS: u64 = 1000;

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// Adds `points` to `player`'s score unless they submitted `LIMIT` times in the last window.
async fn submit(c: &mut redis::aio::MultiplexedConnection, player: &str, points: f64, seq: u64) -> Option<f64> {
    let key = format!("ratelimit:{player}");
    let now = now_ms();
    // Drop submissions older than the window, count the rest.
    let (_, recent): (i64, usize) =
        redis::pipe().atomic().zrembyscore(&key, 0, now - WINDOW_MS).zcard(&key).query_async(c).await.unwrap();
    if recent >= LIMIT {
        return None;
    }
    let (_, _, score): ((), (), f64) = redis::pipe()
        .atomic()
        .zadd(&key, format!("{now}-{seq}"), now)
        .pexpire(&key, WINDOW_MS as i64)
        .zincr(BOARD, player, points)
        .query_async(c)
        .await
        .unwrap();
    Some(score)
}

#[tokio::main]
async fn main() {
    let url = embedded::server_url(std::env::args().nth(1)).await;
    let mut c = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let _: () = c.del(BOARD).await.unwrap();
    let _: () = c.zadd_multiple(BOARD, &[(120.0, "ada"), (95.0, "grace"), (130.0, "linus"), (85.0, "ken")]).await.unwrap();

    // Ken submits eight results at once: the limiter lets five through.
    let mut accepted = 0;
    for seq in 0..8 {
        if let Some(score) = submit(&mut c, "ken", 10.0, seq).await {
            accepted += 1;
            println!("ken +10 -> {score}");
        } else {
            println!("ken rate-limited ({LIMIT} per {WINDOW_MS} ms)");
        }
    }
    assert_eq!(accepted, LIMIT);

    let top: Vec<(String, f64)> = c.zrevrange_withscores(BOARD, 0, 2).await.unwrap();
    println!("top 3: {top:?}");
    let rank: Option<usize> = c.zrevrank(BOARD, "ken").await.unwrap();
    println!("ken is #{} of {}", rank.unwrap() + 1, c.zcard::<_, usize>(BOARD).await.unwrap());
    assert_eq!(top.first().map(|(p, _)| p.as_str()), Some("ken"));
}
