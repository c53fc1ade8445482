//! MULTI/EXEC/WATCH across real connections.
mod common;

use redis::AsyncCommands;

#[tokio::test]
async fn exec_fails_with_a_null_array_when_another_client_changed_a_watched_key() {
    let server = common::start().await;
    let mut watcher = server.raw().await;
    let mut other = server.client().await;
    assert_eq!(watcher.call(&[b"WATCH", b"balance"]).await, b"+OK\r\n");
    let _: () = other.set("balance", 5).await.unwrap();
    assert_eq!(watcher.call(&[b"MULTI"]).await, b"+OK\r\n");
    assert_eq!(watcher.call(&[b"SET", b"balance", b"100"]).await, b"+QUEUED\r\n");
    assert_eq!(watcher.call(&[b"EXEC"]).await, b"*-1\r\n");
    let balance: i64 = other.get("balance").await.unwrap();
    assert_eq!(balance, 5);
}

#[tokio::test]
async fn exec_runs_when_watched_keys_were_left_alone_by_others() {
    let server = common::start().await;
    let mut watcher = server.raw().await;
    let mut other = server.client().await;
    watcher.call(&[b"WATCH", b"k"]).await;
    let _: () = other.set("unrelated", 1).await.unwrap();
    watcher.call(&[b"MULTI"]).await;
    watcher.call(&[b"SET", b"k", b"v"]).await;
    assert_eq!(watcher.call(&[b"EXEC"]).await, b"*1\r\n+OK\r\n");
}

#[tokio::test]
async fn a_watched_key_that_expires_aborts_exec() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    raw.call(&[b"SET", b"k", b"v", b"PX", b"5"]).await;
    raw.call(&[b"WATCH", b"k"]).await;
    // Wait, without sleeping as synchronisation, until the key is gone for a reader.
    let mut reader = server.client().await;
    for _ in 0..10_000 {
        let exists: bool = reader.exists("k").await.unwrap();
        if !exists {
            break;
        }
        tokio::task::yield_now().await;
    }
    raw.call(&[b"MULTI"]).await;
    raw.call(&[b"GET", b"k"]).await;
    assert_eq!(raw.call(&[b"EXEC"]).await, b"*-1\r\n");
}

#[tokio::test]
async fn transactions_are_atomic_with_respect_to_other_clients() {
    let server = common::start().await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let mut conn = server.client().await;
        tasks.push(tokio::spawn(async move {
            for _ in 0..200 {
                // Each transaction moves one unit from a to b; a reader must never see a+b != 0.
                let (_, _): (i64, i64) = redis::pipe().atomic().decr("a", 1).incr("b", 1).query_async(&mut conn).await.unwrap();
            }
        }));
    }
    let mut reader = server.client().await;
    let mut checks = 0;
    while tasks.iter().any(|t| !t.is_finished()) && checks < 5_000 {
        let (a, b): (Option<i64>, Option<i64>) = redis::pipe().atomic().get("a").get("b").query_async(&mut reader).await.unwrap();
        assert_eq!(a.unwrap_or(0) + b.unwrap_or(0), 0, "saw half a transaction");
        checks += 1;
    }
    for task in tasks {
        task.await.unwrap();
    }
    let b: i64 = reader.get("b").await.unwrap();
    assert_eq!(b, 1600);
}

#[tokio::test]
async fn shutdown_inside_multi_is_refused_and_aborts_the_transaction() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    raw.call(&[b"MULTI"]).await;
    assert_eq!(raw.call(&[b"SHUTDOWN"]).await, b"-ERR Command not allowed inside a transaction\r\n");
    assert_eq!(raw.call(&[b"EXEC"]).await, b"-EXECABORT Transaction discarded because of previous errors.\r\n");
    assert_eq!(raw.call(&[b"PING"]).await, b"+PONG\r\n");
}
