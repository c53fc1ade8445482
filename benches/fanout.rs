//! Pub/sub fan-out load generator, runnable against any RESP server (Herald, redis-server).
//!
//! N subscribers (one connection each) SUBSCRIBE to one of C channels `news.<i>` (or, with
//! `--pattern`, all PSUBSCRIBE `news.*`), then P publishers send pipelined PUBLISH commands for a
//! fixed time. Every payload carries the send time and a sequence number, so each subscriber
//! measures end-to-end latency; the replies of PUBLISH (receiver counts) give the number of
//! deliveries expected, so messages lost to dropped subscribers show up. With
//! `--idle-patterns K` one more connection subscribes K patterns that never match, to show what
//! pattern subscriptions cost each PUBLISH.
//!
//! It is a `[[bench]]` with `harness = false` rather than an example so it lives with the other
//! benches and `cargo bench` builds it optimised:
//!
//! ```text
//! cargo bench --bench fanout -- --addr 127.0.0.1:6379 --subscribers 1000 --channels 100
//! ```
//!
//! Output: a human summary, then one `RESULT key=value ...` line for scripts (benches/fanout.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, clippy::too_many_arguments, missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Clone)]
struct Options {
    addr: String,
    subscribers: usize,
    channels: usize,
    publishers: usize,
    pipeline: usize,
    seconds: f64,
    payload: usize,
    pattern: bool,
    idle_patterns: usize,
    /// Total PUBLISH per second across publishers; 0 = as fast as replies come back.
    rate: u64,
    label: String,
}

fn parse_options() -> Options {
    let mut o = Options {
        addr: "127.0.0.1:6379".into(),
        subscribers: 1000,
        channels: 100,
        publishers: 4,
        pipeline: 32,
        seconds: 5.0,
        payload: 64,
        pattern: false,
        idle_patterns: 0,
        rate: 0,
        label: String::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--bench" => {} // added by `cargo bench`
            "--addr" => o.addr = value(),
            "--subscribers" | "-n" => o.subscribers = value().parse().unwrap(),
            "--channels" | "-c" => o.channels = value().parse().unwrap(),
            "--publishers" | "-p" => o.publishers = value().parse().unwrap(),
            "--pipeline" | "-d" => o.pipeline = value().parse().unwrap(),
            "--seconds" | "-t" => o.seconds = value().parse().unwrap(),
            "--payload" => o.payload = value().parse().unwrap(),
            "--pattern" => o.pattern = true,
            "--idle-patterns" => o.idle_patterns = value().parse().unwrap(),
            "--rate" => o.rate = value().parse().unwrap(),
            "--label" => o.label = value(),
            "--help" | "-h" => {
                println!("fanout [--addr host:port] [-n subscribers] [-c channels] [-p publishers] [-d pipeline] [-t seconds] [--payload bytes] [--pattern] [--idle-patterns K] [--rate publishes/s] [--label text]");
                std::process::exit(0);
            }
            other => panic!("unknown flag {other}"),
        }
    }
    o.payload = o.payload.max(32);
    o.channels = o.channels.max(1);
    o
}

/// Latency histogram in microseconds: 64 linear sub-buckets per power of two (< 1.6% error).
#[derive(Clone)]
struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Histogram {
    const SUB: u64 = 64;

    fn new() -> Self {
        Histogram { counts: vec![0; 64 * 40], total: 0, max: 0 }
    }

    fn index(value: u64) -> usize {
        if value < Self::SUB {
            return value as usize;
        }
        let power = 63 - value.leading_zeros() as u64; // >= 6
        let shift = power - 6;
        let sub = (value >> shift) - Self::SUB; // 0..64
        ((shift + 1) * Self::SUB + sub) as usize
    }

    fn value_at(index: usize) -> u64 {
        let index = index as u64;
        if index < Self::SUB {
            return index;
        }
        let shift = index / Self::SUB - 1;
        let sub = index % Self::SUB;
        ((Self::SUB + sub) << shift) + (1 << shift) / 2
    }

    fn record(&mut self, micros: u64) {
        let i = Self::index(micros).min(self.counts.len() - 1);
        self.counts[i] += 1;
        self.total += 1;
        self.max = self.max.max(micros);
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let target = ((self.total as f64) * p / 100.0).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= target {
                return Self::value_at(i).min(self.max);
            }
        }
        self.max
    }
}

fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Parses one `*N`/`>N` frame of bulk strings (or a simple/integer line) from `buf`;
/// returns (bytes used, last bulk string's range) or None if incomplete.
fn parse_frame(buf: &[u8]) -> Option<(usize, Option<(usize, usize)>)> {
    let line_end = |from: usize| buf.get(from..)?.windows(2).position(|w| w == b"\r\n").map(|p| from + p);
    let first = *buf.first()?;
    let end = line_end(0)?;
    match first {
        b'*' | b'>' => {
            let n: usize = std::str::from_utf8(&buf[1..end]).ok()?.parse().ok()?;
            let mut pos = end + 2;
            let mut last = None;
            for _ in 0..n {
                let kind = *buf.get(pos)?;
                let e = line_end(pos)?;
                if kind == b'$' {
                    let len: i64 = std::str::from_utf8(&buf[pos + 1..e]).ok()?.parse().ok()?;
                    let start = e + 2;
                    if len < 0 {
                        pos = start;
                        continue;
                    }
                    let stop = start + len as usize;
                    if buf.len() < stop + 2 {
                        return None;
                    }
                    last = Some((start, stop));
                    pos = stop + 2;
                } else {
                    pos = e + 2;
                }
            }
            Some((pos, last))
        }
        _ => Some((end + 2, None)),
    }
}

struct SubscriberResult {
    histogram: Histogram,
    received: u64,
    out_of_order: u64,
    disconnected: bool,
}

async fn subscriber(
    addr: String,
    subscribe: Vec<u8>,
    confirmations: usize,
    ready: Arc<tokio::sync::Barrier>,
    epoch: Instant,
    mut stop: tokio::sync::watch::Receiver<bool>,
    delivered: Arc<AtomicU64>,
    publishers: usize,
) -> SubscriberResult {
    let mut result = SubscriberResult { histogram: Histogram::new(), received: 0, out_of_order: 0, disconnected: false };
    let mut stream = TcpStream::connect(&addr).await.expect("connect subscriber");
    stream.set_nodelay(true).ok();
    stream.write_all(&subscribe).await.unwrap();
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut start = 0;
    let mut confirmed = 0;
    let mut last_seq = vec![0u64; publishers];
    let mut chunk = vec![0u8; 64 * 1024];
    let mut waited = false;
    loop {
        if confirmed >= confirmations && !waited {
            ready.wait().await;
            waited = true;
        }
        let read = tokio::select! {
            r = stream.read(&mut chunk) => r,
            _ = stop.wait_for(|stopping| *stopping) => break,
        };
        let n = match read {
            Ok(0) | Err(_) => {
                result.disconnected = true;
                if !waited {
                    ready.wait().await;
                }
                break;
            }
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let now = epoch.elapsed().as_micros() as u64;
        let mut batch = 0;
        while let Some((used, last)) = parse_frame(&buf[start..]) {
            let frame = &buf[start..start + used];
            if confirmed < confirmations {
                confirmed += 1;
            } else if let Some((a, b)) = last {
                // payload: "<micros> <publisher> <seq> padding"
                let payload = &frame[a..b];
                let mut words = payload.split(|c| *c == b' ');
                let ts: u64 = words.next().and_then(|w| std::str::from_utf8(w).ok()?.parse().ok()).unwrap_or(now);
                let publisher: usize = words.next().and_then(|w| std::str::from_utf8(w).ok()?.parse().ok()).unwrap_or(0);
                let seq: u64 = words.next().and_then(|w| std::str::from_utf8(w).ok()?.parse().ok()).unwrap_or(0);
                if let Some(last) = last_seq.get_mut(publisher) {
                    if seq < *last {
                        result.out_of_order += 1;
                    }
                    *last = seq;
                }
                result.histogram.record(now.saturating_sub(ts));
                result.received += 1;
                batch += 1;
            }
            start += used;
        }
        if batch > 0 {
            delivered.fetch_add(batch, Ordering::Relaxed);
        }
        if start > 0 {
            buf.drain(..start);
            start = 0;
        }
    }
    result
}

struct PublisherResult {
    published: u64,
    expected: u64,
}

async fn publisher(id: usize, o: Options, epoch: Instant, until: Instant) -> PublisherResult {
    let mut stream = TcpStream::connect(&o.addr).await.expect("connect publisher");
    stream.set_nodelay(true).ok();
    let mut result = PublisherResult { published: 0, expected: 0 };
    let mut seq = 0u64;
    let mut out = Vec::with_capacity(o.pipeline * (o.payload + 64));
    let mut inbuf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    let per_publisher_rate = if o.rate > 0 { (o.rate as f64 / o.publishers as f64).max(1.0) } else { 0.0 };
    let started = Instant::now();
    while Instant::now() < until {
        let mut batch = o.pipeline;
        if per_publisher_rate > 0.0 {
            // Send whatever is due by now (at most a pipeline's worth), so a slow round trip
            // does not lower the offered rate.
            let next = started + Duration::from_secs_f64(seq as f64 / per_publisher_rate);
            tokio::time::sleep_until(next.into()).await;
            let due = ((started.elapsed().as_secs_f64() * per_publisher_rate) as u64 + 1).saturating_sub(seq);
            batch = (due.max(1) as usize).min(o.pipeline);
        }
        out.clear();
        for _ in 0..batch {
            seq += 1;
            let channel = format!("news.{}", (seq as usize * 7 + id) % o.channels);
            let ts = epoch.elapsed().as_micros() as u64;
            let mut payload = format!("{ts} {id} {seq} ").into_bytes();
            payload.resize(o.payload, b'x');
            out.extend(command(&[b"PUBLISH", channel.as_bytes(), &payload]));
        }
        stream.write_all(&out).await.unwrap();
        let mut replies = 0;
        while replies < batch {
            let mut pos = 0;
            while let Some(end) = inbuf[pos..].windows(2).position(|w| w == b"\r\n") {
                let line = &inbuf[pos..pos + end];
                if line.first() == Some(&b':') {
                    result.expected += std::str::from_utf8(&line[1..]).unwrap().parse::<u64>().unwrap();
                } else {
                    panic!("unexpected reply {:?}", String::from_utf8_lossy(line));
                }
                replies += 1;
                pos += end + 2;
            }
            inbuf.drain(..pos);
            if replies >= batch {
                break;
            }
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "server closed the publisher");
            inbuf.extend_from_slice(&chunk[..n]);
        }
        result.published += batch as u64;
    }
    result
}

#[tokio::main]
async fn main() {
    let o = parse_options();
    let epoch = Instant::now();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let delivered = Arc::new(AtomicU64::new(0));
    let ready = Arc::new(tokio::sync::Barrier::new(o.subscribers + 1));
    let mut idle = None;
    if o.idle_patterns > 0 {
        let mut s = TcpStream::connect(&o.addr).await.expect("connect");
        for chunk in (0..o.idle_patterns).collect::<Vec<_>>().chunks(500) {
            let names: Vec<Vec<u8>> = chunk.iter().map(|i| format!("idle{i}.*").into_bytes()).collect();
            let mut args: Vec<&[u8]> = vec![b"PSUBSCRIBE"];
            args.extend(names.iter().map(|n| n.as_slice()));
            s.write_all(&command(&args)).await.unwrap();
        }
        // Wait for the last confirmation (count == idle_patterns).
        let want = format!(":{}\r\n", o.idle_patterns);
        let mut seen = Vec::new();
        let mut chunk = vec![0u8; 65536];
        while !seen.windows(want.len()).any(|w| w == want.as_bytes()) {
            let n = s.read(&mut chunk).await.unwrap();
            assert!(n > 0);
            seen.extend_from_slice(&chunk[..n]);
            if seen.len() > 1 << 20 {
                seen.drain(..seen.len() - 64);
            }
        }
        idle = Some(s);
    }
    let mut subs = Vec::with_capacity(o.subscribers);
    for i in 0..o.subscribers {
        let (subscribe, confirmations) = if o.pattern {
            (command(&[b"PSUBSCRIBE", b"news.*"]), 1)
        } else {
            (command(&[b"SUBSCRIBE", format!("news.{}", i % o.channels).as_bytes()]), 1)
        };
        subs.push(tokio::spawn(subscriber(
            o.addr.clone(),
            subscribe,
            confirmations,
            ready.clone(),
            epoch,
            stop_rx.clone(),
            delivered.clone(),
            o.publishers,
        )));
        if i % 100 == 99 {
            tokio::task::yield_now().await;
        }
    }
    ready.wait().await;
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(o.seconds);
    let pubs: Vec<_> = (0..o.publishers).map(|id| tokio::spawn(publisher(id, o.clone(), epoch, until))).collect();
    let mut published = 0;
    let mut expected = 0;
    for p in pubs {
        let r = p.await.unwrap();
        published += r.published;
        expected += r.expected;
    }
    let publish_elapsed = started.elapsed().as_secs_f64();
    // Drain: wait until every expected delivery arrived, or 10 s without progress.
    let mut last = delivered.load(Ordering::Relaxed);
    let mut last_progress = Instant::now();
    while delivered.load(Ordering::Relaxed) < expected && last_progress.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = delivered.load(Ordering::Relaxed);
        if now != last {
            last = now;
            last_progress = Instant::now();
        }
    }
    let total_elapsed = started.elapsed().as_secs_f64();
    stop.send_replace(true);
    let mut histogram = Histogram::new();
    let mut received = 0;
    let mut disconnected = 0;
    let mut out_of_order = 0;
    for s in subs {
        let r = s.await.unwrap();
        histogram.merge(&r.histogram);
        received += r.received;
        out_of_order += r.out_of_order;
        disconnected += usize::from(r.disconnected);
    }
    drop(idle);
    let lost = expected.saturating_sub(received);
    let mode = if o.pattern { "pattern news.*" } else { "channels" };
    println!(
        "{} {}: {} subscribers, {} channels, {} publishers x pipeline {}, {} B payload, {} idle patterns, {:.1}s",
        o.label, mode, o.subscribers, o.channels, o.publishers, o.pipeline, o.payload, o.idle_patterns, publish_elapsed
    );
    println!(
        "  published/s {:.0}  delivered/s {:.0}  latency us p50 {} p99 {} p999 {} max {}  lost {}  out-of-order {}  dropped subscribers {}",
        published as f64 / publish_elapsed,
        received as f64 / total_elapsed,
        histogram.percentile(50.0),
        histogram.percentile(99.0),
        histogram.percentile(99.9),
        histogram.max,
        lost,
        out_of_order,
        disconnected
    );
    println!(
        "RESULT label={} published_per_s={:.0} delivered_per_s={:.0} p50_us={} p99_us={} p999_us={} lost={} dropped={}",
        if o.label.is_empty() { "-" } else { &o.label },
        published as f64 / publish_elapsed,
        received as f64 / total_elapsed,
        histogram.percentile(50.0),
        histogram.percentile(99.0),
        histogram.percentile(99.9),
        lost,
        disconnected
    );
}
