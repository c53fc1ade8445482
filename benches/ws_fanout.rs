//! WebSocket fan-out: one RESP publisher, N WebSocket subscribers (default 10,000), against a
//! Herald child process; then the same fan-out to N RESP subscribers for comparison.
//! Reports delivered messages per second, p50/p99 latency (publish to receipt), messages lost,
//! and the server's resident memory per idle WebSocket connection.
//!
//! `cargo bench --bench ws_fanout -- [--subscribers N] [--messages M] [--interval-ms I]`
//! (`HERALD_BIN=path` to measure another herald binary.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

const CHANNEL: &str = "bench";
/// Payload: 20-digit microsecond timestamp, padded to 64 bytes.
const PAYLOAD_LEN: usize = 64;

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

fn payload() -> String {
    format!("{:020}{}", now_us(), "x".repeat(PAYLOAD_LEN - 20))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

struct Herald {
    child: Child,
    port: u16,
    ws_port: u16,
}

impl Drop for Herald {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

async fn start_herald() -> Herald {
    let (port, ws_port) = (free_port(), free_port());
    // HERALD_BIN runs another build (an older commit's, to compare) under the same clients.
    let bin = std::env::var("HERALD_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_herald").to_string());
    let child = Command::new(bin)
        .args(["--port", &port.to_string(), "--ws-port", &ws_port.to_string(), "--bind", "127.0.0.1"])
        .args(["--maxclients", "100000", "--ws-max-connections", "100000", "--ws-send-queue", "100000", "--ws-idle-timeout", "0"])
        .args(["--client-output-buffer-limit", "pubsub 0 0 0", "--loglevel", "warning"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start herald");
    for _ in 0..400 {
        if TcpStream::connect(("127.0.0.1", ws_port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Herald { child, port, ws_port }
}

struct Report {
    delivered: u64,
    expected: u64,
    elapsed: Duration,
    latencies: Vec<u64>,
}

impl Report {
    fn print(&mut self, label: &str) {
        self.latencies.sort_unstable();
        let pick = |q: f64| self.latencies.get(((self.latencies.len() as f64 * q) as usize).min(self.latencies.len().saturating_sub(1))).copied().unwrap_or(0);
        println!(
            "{label:>10}: delivered {}/{} (lost {}), {:.0} delivered/s, latency p50 {:.2} ms p99 {:.2} ms",
            self.delivered,
            self.expected,
            self.expected - self.delivered,
            self.delivered as f64 / self.elapsed.as_secs_f64(),
            pick(0.50) as f64 / 1000.0,
            pick(0.99) as f64 / 1000.0
        );
    }
}

async fn publish_all(port: u16, messages: usize, interval: Duration) -> Instant {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let mut publisher = None;
    for _ in 0..20 {
        // No response timeout (the client's default is 500 ms): with 10,000 subscribers on a
        // loaded 2-core machine one PUBLISH reply can take longer, and that is what we measure.
        let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
        if let Ok(connection) = client.get_multiplexed_async_connection_with_config(&config).await {
            publisher = Some(connection);
            break;
        }
    }
    let mut publisher = publisher.expect("publisher connection");
    let start = Instant::now();
    for _ in 0..messages {
        let _: i64 = redis::cmd("PUBLISH").arg(CHANNEL).arg(payload()).query_async(&mut publisher).await.unwrap();
        if !interval.is_zero() {
            tokio::time::sleep(interval).await;
        }
    }
    start
}

/// One server frame at the start of `buf`: (opcode, payload range, frame length), or `None`
/// while it is incomplete. Server frames are never masked.
fn next_frame(buf: &[u8]) -> Option<(u8, std::ops::Range<usize>, usize)> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    let (len, header) = match b1 & 0x7f {
        126 => (usize::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])), 4),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize, 10),
        n => (usize::from(n), 2),
    };
    (buf.len() >= header + len).then_some((b0 & 0x0f, header..header + len, header + len))
}

/// A WebSocket subscriber with a receive path as cheap as `resp_subscriber`'s: the upgrade by
/// hand, then 64 KiB reads with the frames walked in place (tungstenite's client, with its
/// 128 KiB zero-filled read buffer and one allocation per message for each of 10,000
/// connections in this process, cost more CPU than the server it measured).
async fn ws_subscriber(ws_port: u16, messages: usize, ready: Arc<Semaphore>, gate: Arc<Semaphore>) -> (u64, Vec<u64>) {
    let mut permit = Some(gate.acquire().await.unwrap());
    let mut socket = TcpStream::connect(("127.0.0.1", ws_port)).await.unwrap();
    let upgrade = format!(
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{ws_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: herald.json\r\n\r\n"
    );
    socket.write_all(upgrade.as_bytes()).await.unwrap();
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = socket.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed during the upgrade");
        pending.extend_from_slice(&chunk[..n]);
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            assert!(pending.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&pending));
            pending.drain(..end + 4);
            break;
        }
    }
    // A client frame must be masked; a zero mask leaves the payload as it is.
    let subscribe = format!(r#"{{"id":1,"type":"subscribe","channels":["{CHANNEL}"]}}"#);
    let mut frame = vec![0x81, 0x80 | subscribe.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(subscribe.as_bytes());
    socket.write_all(&frame).await.unwrap();
    let mut subscribed = false;
    let mut latencies = Vec::with_capacity(messages);
    while latencies.len() < messages {
        let mut at = 0;
        let now = now_us();
        while let Some((opcode, payload, len)) = next_frame(&pending[at..]) {
            let text = &pending[at + payload.start..at + payload.end];
            if opcode == 1 {
                if let Some(data) = text.windows(8).position(|w| w == b"\"data\":\"") {
                    let sent: u64 = std::str::from_utf8(&text[data + 8..data + 28]).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
                    latencies.push(now.saturating_sub(sent));
                } else if !subscribed && text.starts_with(br#"{"type":"reply""#) {
                    subscribed = true;
                    drop(permit.take());
                    ready.add_permits(1);
                }
            }
            at += len;
        }
        pending.drain(..at);
        if latencies.len() >= messages {
            break;
        }
        let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(20), socket.read(&mut chunk)).await else { break };
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&chunk[..n]);
    }
    (latencies.len() as u64, latencies)
}

async fn resp_subscriber(port: u16, messages: usize, ready: Arc<Semaphore>, gate: Arc<Semaphore>) -> (u64, Vec<u64>) {
    let permit = gate.acquire().await.unwrap();
    let mut socket = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    socket.write_all(format!("*2\r\n$9\r\nSUBSCRIBE\r\n${}\r\n{CHANNEL}\r\n", CHANNEL.len()).as_bytes()).await.unwrap();
    let confirm = format!("*3\r\n$9\r\nsubscribe\r\n${}\r\n{CHANNEL}\r\n:1\r\n", CHANNEL.len());
    let mut buffer = vec![0u8; confirm.len()];
    socket.read_exact(&mut buffer).await.unwrap();
    drop(permit);
    ready.add_permits(1);
    let frame = format!("*3\r\n$7\r\nmessage\r\n${}\r\n{CHANNEL}\r\n${PAYLOAD_LEN}\r\n", CHANNEL.len());
    let frame_len = frame.len() + PAYLOAD_LEN + 2;
    let mut latencies = Vec::with_capacity(messages);
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    while latencies.len() < messages {
        let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(20), socket.read(&mut chunk)).await else { break };
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&chunk[..n]);
        let whole = pending.len() / frame_len * frame_len;
        let now = now_us();
        for one in pending[..whole].chunks(frame_len) {
            let sent: u64 = std::str::from_utf8(&one[frame.len()..frame.len() + 20]).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
            latencies.push(now.saturating_sub(sent));
        }
        pending.drain(..whole);
    }
    (latencies.len() as u64, latencies)
}

async fn run(label: &str, herald: &Herald, subscribers: usize, messages: usize, interval: Duration, websocket: bool) -> Report {
    let ready = Arc::new(Semaphore::new(0));
    let gate = Arc::new(Semaphore::new(256));
    let rss_before = rss_kb(herald.child.id());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..subscribers {
        let (ready, gate) = (ready.clone(), gate.clone());
        let (port, ws_port) = (herald.port, herald.ws_port);
        if websocket {
            tasks.spawn(ws_subscriber(ws_port, messages, ready, gate));
        } else {
            tasks.spawn(resp_subscriber(port, messages, ready, gate));
        }
    }
    let _all = ready.acquire_many(subscribers as u32).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = rss_kb(herald.child.id());
    println!(
        "{label:>10}: {subscribers} idle subscribers: server RSS {} KB -> {} KB, {:.1} KB per connection",
        rss_before,
        rss_after,
        (rss_after.saturating_sub(rss_before)) as f64 / subscribers as f64
    );
    let start = publish_all(herald.port, messages, interval).await;
    let mut report = Report { delivered: 0, expected: (subscribers * messages) as u64, elapsed: Duration::ZERO, latencies: Vec::new() };
    while let Some(done) = tasks.join_next().await {
        let (received, latencies) = done.unwrap();
        report.delivered += received;
        report.latencies.extend(latencies);
    }
    report.elapsed = start.elapsed();
    report
}

fn flag(args: &[String], name: &str, default: usize) -> usize {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let subscribers = flag(&args, "--subscribers", 10_000);
    let messages = flag(&args, "--messages", 100);
    let interval = Duration::from_millis(flag(&args, "--interval-ms", 10) as u64);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        println!("fan-out of {messages} messages ({PAYLOAD_LEN} B, one every {interval:?}) to {subscribers} subscribers");
        let herald = start_herald().await;
        let mut ws = run("websocket", &herald, subscribers, messages, interval, true).await;
        ws.print("websocket");
        drop(herald);
        let herald = start_herald().await;
        let mut resp = run("resp", &herald, subscribers, messages, interval, false).await;
        resp.print("resp");
        let ratio = (ws.delivered as f64 / ws.elapsed.as_secs_f64()) / (resp.delivered as f64 / resp.elapsed.as_secs_f64());
        println!("websocket delivered/s = {:.0}% of resp", ratio * 100.0);
    });
}
