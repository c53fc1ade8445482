//! Lists as job queues under concurrency: several producers and consumers move many thousands
//! of jobs, and every job arrives exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::RawClient;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

const PRODUCERS: usize = 4;
const CONSUMERS: usize = 4;
const JOBS_PER_PRODUCER: usize = 2_500;
const BATCH: usize = 50;

/// The bulk strings of a flat RESP reply (a bulk, or an array of bulks); empty for a null.
fn bulks(frame: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < frame.len() {
        let end = pos + frame[pos..].windows(2).position(|w| w == b"\r\n").unwrap();
        let header = &frame[pos..end];
        pos = end + 2;
        if header[0] == b'$' {
            let len: i64 = std::str::from_utf8(&header[1..]).unwrap().parse().unwrap();
            if len >= 0 {
                let len = len as usize;
                out.push(frame[pos..pos + len].to_vec());
                pos += len + 2;
            }
        }
    }
    out
}

/// Pushes this producer's jobs (`p<producer>-j<n>`) with `push`, `BATCH` jobs per command.
async fn produce(addr: SocketAddr, producer: usize, push: &'static [u8]) {
    let mut c = RawClient::connect(addr).await;
    for batch in 0..JOBS_PER_PRODUCER / BATCH {
        let jobs: Vec<String> = (0..BATCH).map(|i| format!("p{producer}-j{}", batch * BATCH + i)).collect();
        let mut args: Vec<&[u8]> = vec![push, b"jobs"];
        args.extend(jobs.iter().map(|j| j.as_bytes()));
        let reply = c.call(&args).await;
        assert_eq!(reply[0], b':', "push failed: {}", String::from_utf8_lossy(&reply));
    }
}

async fn wait_for_all(server: &common::TestServer, key: &[u8], expected_len: &[u8]) {
    let mut c = server.raw().await;
    for _ in 0..5000 {
        if c.call(&[b"LLEN", key]).await == expected_len {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("{} never reached the expected length", String::from_utf8_lossy(key));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producers_and_brpop_consumers_move_every_job_exactly_once() {
    let server = common::start().await;
    let addr = server.addr;
    let mut consumers = Vec::new();
    for _ in 0..CONSUMERS {
        consumers.push(tokio::spawn(async move {
            let mut c = RawClient::connect(addr).await;
            let mut got = Vec::new();
            loop {
                let reply = c.call(&[b"BRPOP", b"jobs", b"0"]).await;
                let parts = bulks(&reply);
                assert_eq!(parts.len(), 2, "unexpected reply {}", String::from_utf8_lossy(&reply));
                if parts[1] == b"stop" {
                    return got;
                }
                got.push(String::from_utf8(parts[1].clone()).unwrap());
            }
        }));
    }
    let producers: Vec<_> = (0..PRODUCERS).map(|p| tokio::spawn(produce(addr, p, b"LPUSH"))).collect();
    for producer in producers {
        producer.await.unwrap();
    }
    // FIFO: the stop markers come out only after every job.
    let mut c = server.raw().await;
    for _ in 0..CONSUMERS {
        c.call(&[b"LPUSH", b"jobs", b"stop"]).await;
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for consumer in consumers {
        let got = tokio::time::timeout(Duration::from_secs(60), consumer).await.expect("consumers finish").unwrap();
        total += got.len();
        for job in got {
            assert!(seen.insert(job.clone()), "job {job} delivered twice");
        }
    }
    assert_eq!(total, PRODUCERS * JOBS_PER_PRODUCER);
    for p in 0..PRODUCERS {
        for j in 0..JOBS_PER_PRODUCER {
            assert!(seen.contains(&format!("p{p}-j{j}")), "job p{p}-j{j} lost");
        }
    }
    assert_eq!(c.call(&[b"EXISTS", b"jobs"]).await, b":0\r\n");
    assert_eq!(server.shared.keyspace.lock().blocking.blocked_clients(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reliable_workers_with_blmove_and_lrem_ack_every_job_exactly_once() {
    let server = common::start().await;
    let addr = server.addr;
    let total = PRODUCERS * JOBS_PER_PRODUCER;
    let mut workers = Vec::new();
    for w in 0..CONSUMERS {
        workers.push(tokio::spawn(async move {
            let mut c = RawClient::connect(addr).await;
            let processing = format!("processing:{w}");
            let mut done = Vec::new();
            loop {
                let reply = c.call(&[b"BLMOVE", b"jobs", processing.as_bytes(), b"RIGHT", b"LEFT", b"0"]).await;
                let job = bulks(&reply).pop().unwrap_or_else(|| panic!("unexpected reply {}", String::from_utf8_lossy(&reply)));
                if job == b"stop" {
                    c.call(&[b"LREM", processing.as_bytes(), b"1", b"stop"]).await;
                    return done;
                }
                let acked = c.call(&[b"LREM", processing.as_bytes(), b"1", &job]).await;
                assert_eq!(acked, b":1\r\n");
                done.push(String::from_utf8(job).unwrap());
            }
        }));
    }
    // Producers push at the head while workers take from the tail.
    let producers: Vec<_> = (0..PRODUCERS).map(|p| tokio::spawn(produce(addr, p, b"LPUSH"))).collect();
    for producer in producers {
        producer.await.unwrap();
    }
    let mut c = server.raw().await;
    for _ in 0..CONSUMERS {
        c.call(&[b"LPUSH", b"jobs", b"stop"]).await;
    }
    let mut seen = HashSet::new();
    for worker in workers {
        for job in tokio::time::timeout(Duration::from_secs(60), worker).await.expect("workers finish").unwrap() {
            assert!(seen.insert(job.clone()), "job {job} processed twice");
        }
    }
    assert_eq!(seen.len(), total);
    wait_for_all(&server, b"jobs", b":0\r\n").await;
    for w in 0..CONSUMERS {
        assert_eq!(c.call(&[b"EXISTS", format!("processing:{w}").as_bytes()]).await, b":0\r\n");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_that_come_and_go_lose_no_job() {
    // Consumers use a short timeout and reconnect between rounds; jobs pushed while nobody
    // waits stay in the list, and none is handed to a consumer that already left.
    let server = common::start().await;
    let addr = server.addr;
    let total = 2 * JOBS_PER_PRODUCER / 5; // 1000 single pushes
    let producer = tokio::spawn(async move {
        let mut c = RawClient::connect(addr).await;
        for i in 0..total {
            c.call(&[b"RPUSH", b"jobs", format!("job-{i}").as_bytes()]).await;
        }
    });
    let mut consumers = Vec::new();
    for _ in 0..3 {
        consumers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            let mut idle_rounds = 0;
            while idle_rounds < 20 {
                let mut c = RawClient::connect(addr).await;
                for _ in 0..50 {
                    let reply = c.call(&[b"BLPOP", b"jobs", b"0.01"]).await;
                    match bulks(&reply).pop() {
                        Some(job) => {
                            idle_rounds = 0;
                            got.push(String::from_utf8(job).unwrap());
                        }
                        None => {
                            idle_rounds += 1;
                            break;
                        }
                    }
                }
            }
            got
        }));
    }
    producer.await.unwrap();
    let mut seen = HashSet::new();
    for consumer in consumers {
        for job in consumer.await.unwrap() {
            assert!(seen.insert(job.clone()), "job {job} delivered twice");
        }
    }
    // Whatever the consumers did not take is still queued: together, every job exactly once.
    let mut c = server.raw().await;
    let left = bulks(&c.call(&[b"LRANGE", b"jobs", b"0", b"-1"]).await);
    for job in left {
        assert!(seen.insert(String::from_utf8(job).unwrap()), "job both delivered and queued");
    }
    assert_eq!(seen.len(), total);
}
