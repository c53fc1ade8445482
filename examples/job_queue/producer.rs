//! The producer: pushes jobs at the head of the queue (workers take from the tail, so the queue
//! is first in, first out).

use crate::QUEUE;

/// The name of job `n`.
pub fn job_name(n: usize) -> String {
    format!("job:{n}")
}

/// Pushes `jobs` jobs, 100 per `LPUSH`.
pub async fn run(mut con: redis::aio::MultiplexedConnection, jobs: usize) {
    let names: Vec<String> = (0..jobs).map(job_name).collect();
    for batch in names.chunks(100) {
        let _: usize = redis::cmd("LPUSH").arg(QUEUE).arg(batch).query_async(&mut con).await.expect("LPUSH");
    }
}
