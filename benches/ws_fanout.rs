//! WebSocket fan-out: one RESP publisher, N WebSocket subscribers (default 10,000), against a
//! Herald child process; then the same fan-out to N RESP subscribers for comparison.
//! Reports delivered messages per second, p50/p99 latency (publish to receipt), messages lost,
//! and the server's resident memory per idle WebSocket connection.
//!
//! `cargo bench --bench ws_fanout -- [--subscribers N] [--messages M] [--interval-ms I]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use futures_util::{SinkExt, StreamExt};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

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
    let child = Command::new(env!("CARGO_BIN_EXE_herald"))
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

async fn ws_subscriber(ws_port: u16, messages: usize, ready: Arc<Semaphore>, gate: Arc<Semaphore>) -> (u64, Vec<u64>) {
    let permit = gate.acquire().await.unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{ws_port}/ws")).await.unwrap();
    ws.send(Message::Text(format!(r#"{{"id":1,"type":"subscribe","channels":["{CHANNEL}"]}}"#).into())).await.unwrap();
    let _reply = ws.next().await;
    drop(permit);
    ready.add_permits(1);
    let mut latencies = Vec::with_capacity(messages);
    let mut received = 0u64;
    while received < messages as u64 {
        let next = tokio::time::timeout(Duration::from_secs(20), ws.next()).await;
        let Ok(Some(Ok(Message::Text(text)))) = next else {
            if let Ok(Some(Ok(_))) = next {
                continue;
            }
            break;
        };
        if let Some(at) = text.find("\"data\":\"") {
            let sent: u64 = text.get(at + 8..at + 28).and_then(|s| s.parse().ok()).unwrap_or(0);
            latencies.push(now_us().saturating_sub(sent));
            received += 1;
        }
    }
    (received, latencies)
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
