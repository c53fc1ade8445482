//! A worker: `BLMOVE jobs jobs:processing:<id> RIGHT LEFT 1` takes the oldest job and, in the
//! same atomic step, records it in the worker's own processing list. Only after the work is
//! done does `LREM jobs:processing:<id> 1 <job>` acknowledge it. A worker that dies between
//! the two leaves the job in its processing list, where the reaper finds it.

use crate::{processing_list, DONE, QUEUE};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Runs until `stop`; returns how many jobs it "crashed" on (dropped unacknowledged).
pub async fn run(mut con: redis::aio::MultiplexedConnection, id: usize, stop: Arc<AtomicBool>) -> usize {
    let processing = processing_list(id);
    let mut taken = 0usize;
    let mut crashes = 0;
    while !stop.load(Ordering::Relaxed) {
        // Block up to a second, then look at `stop` again.
        let job: Option<String> = redis::cmd("BLMOVE")
            .arg(QUEUE)
            .arg(&processing)
            .arg("RIGHT")
            .arg("LEFT")
            .arg(1)
            .query_async(&mut con)
            .await
            .expect("BLMOVE");
        let Some(job) = job else { continue };
        taken += 1;
        if id == 0 && taken.is_multiple_of(97) {
            // Simulated crash: the job stays in our processing list, never acknowledged.
            crashes += 1;
            continue;
        }
        // The work itself.
        tokio::time::sleep(Duration::from_micros(200)).await;
        // Record the result, then acknowledge. (A real system makes the work idempotent:
        // the reaper may requeue a job whose worker was merely slow.)
        let _: () = redis::pipe()
            .cmd("RPUSH")
            .arg(DONE)
            .arg(&job)
            .ignore()
            .cmd("LREM")
            .arg(&processing)
            .arg(1)
            .arg(&job)
            .ignore()
            .query_async(&mut con)
            .await
            .expect("ack");
    }
    crashes
}
