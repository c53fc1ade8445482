//! The reaper: every `visibility` it reads each worker's processing list. A job seen in the same
//! list on two passes in a row has been in flight for longer than any job takes, so its worker
//! is presumed dead: the job is moved back to the queue with `WATCH` + `MULTI` (`LREM` from the
//! processing list, `RPUSH` to the tail of the queue, where it is taken next). If the worker
//! acknowledges meanwhile, the WATCH aborts the move, so a finished job is never requeued.

use crate::{processing_list, QUEUE};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Runs until `stop`; returns how many jobs it requeued.
pub async fn run(mut con: redis::aio::MultiplexedConnection, workers: usize, visibility: Duration, stop: Arc<AtomicBool>) -> usize {
    // The reaper's connection is its own, so WATCH/MULTI/EXEC apply to it alone.
    let mut seen: Vec<HashSet<String>> = vec![HashSet::new(); workers];
    let mut requeued = 0;
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(visibility).await;
        for (worker, previously) in seen.iter_mut().enumerate() {
            let list = processing_list(worker);
            let _: () = redis::cmd("WATCH").arg(&list).query_async(&mut con).await.expect("WATCH");
            let now: Vec<String> = redis::cmd("LRANGE").arg(&list).arg(0).arg(-1).query_async(&mut con).await.expect("LRANGE");
            let stale: Vec<String> = now.iter().filter(|job| previously.contains(*job)).cloned().collect();
            let mut still_there: HashSet<String> = now.into_iter().collect();
            if stale.is_empty() {
                let _: () = redis::cmd("UNWATCH").query_async(&mut con).await.expect("UNWATCH");
            } else {
                let mut tx = redis::pipe();
                tx.atomic();
                for job in &stale {
                    tx.cmd("LREM").arg(&list).arg(1).arg(job).ignore();
                    tx.cmd("RPUSH").arg(QUEUE).arg(job).ignore();
                }
                // `None` when EXEC was aborted because the worker touched its list meanwhile.
                let result: Option<()> = tx.query_async(&mut con).await.expect("EXEC");
                if result.is_some() {
                    requeued += stale.len();
                    // Requeued jobs start afresh if a worker takes them again.
                    for job in &stale {
                        still_there.remove(job);
                    }
                }
            }
            *previously = still_there;
        }
    }
    requeued
}
