//! A work queue under load: producers add thousands of entries while a consumer group reads
//! and acknowledges them, one consumer dies holding entries, and a rescuer claims them. Every
//! entry must be acknowledged exactly once and the PEL must end empty.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

#[path = "stream_support.rs"]
mod support;

use redis::aio::MultiplexedConnection;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const PRODUCERS: usize = 4;
const PER_PRODUCER: usize = 2500;
const CONSUMERS: usize = 3;

type ReadReply = Option<Vec<(String, Vec<(String, Vec<String>)>)>>;

/// XPENDING's summary: count, smallest ID, largest ID, per-consumer counts.
type PendingSummary = (i64, Option<String>, Option<String>, Option<Vec<(String, String)>>);

/// Acknowledges `ids` one by one, recording those XACK reports as newly acknowledged.
async fn ack_all(con: &mut MultiplexedConnection, ids: &[String], acked: &Mutex<Vec<String>>) {
    for id in ids {
        let n: i64 = redis::cmd("XACK").arg("jobs").arg("workers").arg(id).query_async(con).await.unwrap();
        if n == 1 {
            acked.lock().unwrap().push(id.clone());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_entry_is_acknowledged_exactly_once_even_when_a_consumer_dies() {
    let server = support::start().await;
    let mut admin = server.client().await;
    let _: () = redis::cmd("XGROUP").arg("CREATE").arg("jobs").arg("workers").arg("$").arg("MKSTREAM").query_async(&mut admin).await.unwrap();

    // A consumer that takes entries and dies without acknowledging them.
    let mut doomed = server.client().await;
    let _: String = redis::cmd("XADD").arg("jobs").arg("*").arg("job").arg("first").query_async(&mut admin).await.unwrap();

    let taken: ReadReply = redis::cmd("XREADGROUP").arg("GROUP").arg("workers").arg("doomed").arg("COUNT").arg(1).arg("STREAMS").arg("jobs").arg(">").query_async(&mut doomed).await.unwrap();
    let doomed_ids: Vec<String> = taken.unwrap().into_iter().flat_map(|(_, e)| e.into_iter().map(|(id, _)| id)).collect();
    assert_eq!(doomed_ids.len(), 1);
    drop(doomed);

    let producing = Arc::new(AtomicBool::new(true));
    let acked = Arc::new(Mutex::new(Vec::new()));

    let mut consumers = Vec::new();
    for k in 0..CONSUMERS {
        let mut con = server.client().await;
        let producing = producing.clone();
        let acked = acked.clone();
        consumers.push(tokio::spawn(async move {
            loop {
                let reply: ReadReply = redis::cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg("workers")
                    .arg(format!("c{k}"))
                    .arg("COUNT")
                    .arg(100)
                    .arg("BLOCK")
                    .arg(20)
                    .arg("STREAMS")
                    .arg("jobs")
                    .arg(">")
                    .query_async(&mut con)
                    .await
                    .unwrap();
                match reply {
                    Some(streams) => {
                        let ids: Vec<String> = streams.into_iter().flat_map(|(_, entries)| entries.into_iter().map(|(id, _)| id)).collect();
                        ack_all(&mut con, &ids, &acked).await;
                    }
                    None if !producing.load(Ordering::SeqCst) => return,
                    None => {}
                }
            }
        }));
    }


    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let mut con = server.client().await;
        producers.push(tokio::spawn(async move {
            for chunk in 0..PER_PRODUCER / 50 {
                let mut pipe = redis::pipe();
                for i in 0..50 {
                    pipe.cmd("XADD").arg("jobs").arg("*").arg("job").arg(format!("{p}-{}", chunk * 50 + i));
                }
                let _: Vec<String> = pipe.query_async(&mut con).await.unwrap();
            }
        }));
    }
    for producer in producers {
        producer.await.unwrap();
    }
    producing.store(false, Ordering::SeqCst);
    for consumer in consumers {
        consumer.await.unwrap();
    }

    // The dead consumer's entries are still pending; a rescuer claims them with XAUTOCLAIM.
    let mut rescuer = server.client().await;
    let mut cursor = "0-0".to_string();
    loop {
        let (next, claimed, _deleted): (String, Vec<String>, Vec<String>) =
            redis::cmd("XAUTOCLAIM").arg("jobs").arg("workers").arg("rescuer").arg(0).arg(&cursor).arg("COUNT").arg(10).arg("JUSTID").query_async(&mut rescuer).await.unwrap();
        ack_all(&mut rescuer, &claimed, &acked).await;
        if next == "0-0" {
            break;
        }
        cursor = next;
    }

    let acked = acked.lock().unwrap().clone();
    let unique: HashSet<&String> = acked.iter().collect();
    let total = PRODUCERS * PER_PRODUCER + 1;
    assert_eq!(acked.len(), total, "every entry acknowledged once");
    assert_eq!(unique.len(), total, "no entry acknowledged twice");
    assert!(unique.contains(&doomed_ids[0]), "the dead consumer's entry was rescued");
    let len: usize = redis::cmd("XLEN").arg("jobs").query_async(&mut admin).await.unwrap();
    assert_eq!(len, total);
    let summary: PendingSummary = redis::cmd("XPENDING").arg("jobs").arg("workers").query_async(&mut admin).await.unwrap();
    assert_eq!(summary, (0, None, None, None));
}
