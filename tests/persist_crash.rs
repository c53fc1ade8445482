//! The crash test: the real `herald` binary with `stream-fsync always` is SIGKILLed while
//! producers XADD and a consumer group reads and acknowledges; after a restart on the same
//! data directory every acknowledged XADD is there and the group's state agrees with every
//! reply a client received.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use redis::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("herald-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn spawn_herald(dir: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--dir", &dir.to_string_lossy(), "--durable-streams", "yes", "--stream-fsync", "always"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Connects once the server accepts connections and has loaded its durable streams (bounded
/// polling: the child starts and recovers asynchronously, answering `-LOADING` meanwhile).
async fn connect(port: u16) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    for _ in 0..3000 {
        if let Ok(mut con) = client.get_multiplexed_async_connection_with_config(&common::patient_config()).await {
            match redis::cmd("PING").query_async::<String>(&mut con).await {
                Ok(_) => return con,
                Err(e) => assert!(e.to_string().contains("loading the dataset"), "{e}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("herald did not start on port {port}");
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

/// The IDs in an XREADGROUP reply for one stream (RESP2).
fn read_ids(reply: &Value) -> Vec<String> {
    let Value::Array(streams) = reply else { return Vec::new() };
    let mut ids = Vec::new();
    for stream in streams {
        let Value::Array(pair) = stream else { continue };
        let Some(Value::Array(entries)) = pair.get(1) else { continue };
        for entry in entries {
            if let Value::Array(e) = entry {
                ids.push(text(&e[0]));
            }
        }
    }
    ids
}

fn parse_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap();
    (ms.parse().unwrap(), seq.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_no_acknowledged_xadd_and_keeps_group_state() {
    let dir = temp_dir("crash");
    let port = free_port();
    let mut child = spawn_herald(&dir, port);
    let mut admin = connect(port).await;
    let _: () = redis::cmd("XGROUP").arg("CREATE").arg("s").arg("g").arg("$").arg("MKSTREAM").query_async(&mut admin).await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let added = Arc::new(AtomicUsize::new(0));
    let mut producers = Vec::new();
    for p in 0..4 {
        let (stop, added) = (stop.clone(), added.clone());
        let mut con = connect(port).await;
        producers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let reply: redis::RedisResult<String> = redis::cmd("XADD").arg("s").arg("*").arg("p").arg(p).arg("n").arg(n).query_async(&mut con).await;
                match reply {
                    Ok(id) => {
                        acked.push(id);
                        added.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => break,
                }
            }
            acked
        }));
    }
    let consumer = {
        let stop = stop.clone();
        let mut con = connect(port).await;
        tokio::spawn(async move {
            let mut delivered: Vec<String> = Vec::new();
            let mut acked: Vec<String> = Vec::new();
            let mut attempted: Vec<String> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let reply: redis::RedisResult<Value> = redis::cmd("XREADGROUP").arg("GROUP").arg("g").arg("c1").arg("COUNT").arg(20).arg("STREAMS").arg("s").arg(">").query_async(&mut con).await;
                let Ok(reply) = reply else { break };
                let ids = read_ids(&reply);
                delivered.extend(ids.iter().cloned());
                // Acknowledge every other batch's first half, so some stay pending.
                let to_ack: Vec<String> = ids.iter().take(ids.len() / 2).cloned().collect();
                if to_ack.is_empty() {
                    continue;
                }
                // An XACK cut off by the kill may or may not have been applied.
                attempted.extend(to_ack.iter().cloned());
                let mut cmd = redis::cmd("XACK");
                cmd.arg("s").arg("g");
                for id in &to_ack {
                    cmd.arg(id);
                }
                match cmd.query_async::<i64>(&mut con).await {
                    Ok(_) => acked.extend(to_ack),
                    Err(_) => break,
                }
            }
            (delivered, acked, attempted)
        })
    };

    // Kill once the load is well under way.
    for _ in 0..3000 {
        if added.load(Ordering::Relaxed) >= 3000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(added.load(Ordering::Relaxed) >= 3000, "load did not get going");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    let mut acked_adds: Vec<String> = Vec::new();
    for p in producers {
        acked_adds.extend(p.await.unwrap());
    }
    let (delivered, acked_reads, attempted) = consumer.await.unwrap();

    let mut child = spawn_herald(&dir, port);
    let mut con = connect(port).await;
    // Read back in pages: one huge reply can outlast the client's response timeout.
    let mut present: BTreeSet<String> = BTreeSet::new();
    let mut from = "-".to_string();
    loop {
        let page: Vec<Value> = redis::cmd("XRANGE").arg("s").arg(&from).arg("+").arg("COUNT").arg(500).query_async(&mut con).await.unwrap();
        let ids: Vec<String> = page.iter().map(|e| if let Value::Array(e) = e { text(&e[0]) } else { panic!("bad entry") }).collect();
        let Some(last) = ids.last().cloned() else { break };
        present.extend(ids);
        from = format!("({last}");
    }
    let missing: Vec<&String> = acked_adds.iter().filter(|id| !present.contains(*id)).collect();
    assert!(missing.is_empty(), "{} of {} acknowledged XADDs lost, e.g. {:?}", missing.len(), acked_adds.len(), missing.first());

    let pending: Vec<Value> = redis::cmd("XPENDING").arg("s").arg("g").arg("-").arg("+").arg(1_000_000).query_async(&mut con).await.unwrap();
    let pending: BTreeSet<String> = pending.iter().map(|e| if let Value::Array(e) = e { text(&e[0]) } else { panic!("bad row") }).collect();
    let attempted_set: BTreeSet<&String> = attempted.iter().collect();
    for id in &acked_reads {
        assert!(!pending.contains(id), "{id} was acknowledged (XACK replied) but is pending after the restart");
    }
    for id in delivered.iter().filter(|id| !attempted_set.contains(id)) {
        assert!(pending.contains(id), "{id} was delivered (XREADGROUP replied) but is not pending after the restart");
    }
    let groups: Vec<Value> = redis::cmd("XINFO").arg("GROUPS").arg("s").query_async(&mut con).await.unwrap();
    let Value::Array(fields) = &groups[0] else { panic!("bad XINFO GROUPS") };
    let last_delivered = fields.iter().position(|f| matches!(f, Value::BulkString(b) if b == b"last-delivered-id")).map(|i| text(&fields[i + 1])).unwrap();
    if let Some(max) = delivered.iter().map(|id| parse_id(id)).max() {
        assert!(parse_id(&last_delivered) >= max, "group at {last_delivered}, but {max:?} was delivered");
    }
    assert!(acked_adds.len() >= 3000 && !delivered.is_empty() && !acked_reads.is_empty());
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
