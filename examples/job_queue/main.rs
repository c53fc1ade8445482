//! A reliable job queue on Herald lists: a producer, workers that take jobs with `BLMOVE` into
//! their own processing list and acknowledge with `LREM`, and a reaper that puts back jobs a
//! crashed worker left behind. Run it with:
//!
//! ```text
//! cargo run --release --example job_queue            # starts Herald in-process
//! cargo run --release --example job_queue -- redis://127.0.0.1:6379/   # or any server
//! ```
//!
//! Optional arguments after the URL: number of jobs (default 2000) and workers (default 4).
//! One worker "crashes" every 97th job (drops it without acknowledging), so the reaper has
//! real work to do; the run ends when every job is done and prints what happened.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod producer;
mod reaper;
mod worker;

#[path = "../support/embedded.rs"]
mod embedded;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The list producers push to and workers take from.
pub const QUEUE: &str = "jobs";
/// Each acknowledged job is appended here, so the run can check exactly-once at the end.
pub const DONE: &str = "jobs:done";

/// Worker `n`'s processing list: jobs it took and has not acknowledged yet.
pub fn processing_list(worker: usize) -> String {
    format!("jobs:processing:{worker}")
}

/// A connection without a response timeout: `BLMOVE` may legitimately wait.
pub async fn connect(url: &str) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(url).expect("valid URL");
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
    client.get_multiplexed_async_connection_with_config(&config).await.expect("connect")
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next();
    let jobs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let workers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);

    let url = embedded::server_url(url).await;
    let mut admin = connect(&url).await;
    let mut keys = vec![QUEUE.to_string(), DONE.to_string()];
    keys.extend((0..workers).map(processing_list));
    let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut admin).await.expect("DEL");

    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for id in 0..workers {
        tasks.push(tokio::spawn(worker::run(connect(&url).await, id, stop.clone())));
    }
    let reaper = tokio::spawn(reaper::run(connect(&url).await, workers, Duration::from_millis(300), stop.clone()));
    producer::run(connect(&url).await, jobs).await;
    println!("produced {jobs} jobs in {:?}", started.elapsed());

    // Wait until every job is acknowledged (the reaper brings back the dropped ones).
    loop {
        let done: usize = redis::cmd("LLEN").arg(DONE).query_async(&mut admin).await.expect("LLEN");
        if done >= jobs {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut crashes = 0;
    for task in tasks {
        crashes += task.await.expect("worker");
    }
    let requeued = reaper.await.expect("reaper");

    let done: Vec<String> = redis::cmd("LRANGE").arg(DONE).arg(0).arg(-1).query_async(&mut admin).await.expect("LRANGE");
    let unique: HashSet<&String> = done.iter().collect();
    println!("done: {} acknowledgements, {} distinct jobs, in {:?}", done.len(), unique.len(), started.elapsed());
    println!("worker crashes (jobs dropped unacknowledged): {crashes}; requeued by the reaper: {requeued}");
    let missing = (0..jobs).filter(|n| !unique.contains(&producer::job_name(*n))).count();
    println!("missing jobs: {missing}; processed more than once: {}", done.len() - unique.len());
    assert_eq!(missing, 0, "a job was lost");
}
