//! The queue load generator: producers `LPUSH` jobs, consumers take them with `BRPOP`, against
//! Herald and `redis-server` in one run, with the same client code for both.
//!
//! Reports enqueued/s, dequeued/s and enqueue-to-dequeue latency (p50/p99/max), and checks that
//! every job arrived exactly once (the run fails otherwise). With `--memory` it also loads 1M
//! small elements into one list and reports bytes per element from the server's RSS growth
//! (and, for Redis, from `INFO memory`'s `used_memory`).
//!
//! ```text
//! cargo bench --bench queue_load -- [--jobs 200000] [--producers 4] [--consumers 4]
//!     [--depth 16] [--memory] [--only herald|redis] [--herald host:port] [--redis host:port]
//! ```
//!
//! Without `--herald`/`--redis` it starts both servers itself (Herald from the release binary
//! next to this bench, `redis-server` from `PATH`) on free loopback ports, persistence off.
//! Each job is `<producer>:<seq>:<enqueue ns>`; the timestamp is taken just before the `LPUSH`
//! is written, from a clock shared by producers and consumers (one process).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

#[derive(Clone)]
struct Options {
    jobs: usize,
    producers: usize,
    consumers: usize,
    depth: usize,
    rate: f64,
    memory: bool,
    only: Option<String>,
    herald: Option<SocketAddr>,
    redis: Option<SocketAddr>,
}

fn options() -> Options {
    let mut o = Options { jobs: 200_000, producers: 4, consumers: 4, depth: 16, rate: 5000.0, memory: false, only: None, herald: None, redis: None };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--jobs" => o.jobs = args.next().unwrap().parse().unwrap(),
            "--producers" => o.producers = args.next().unwrap().parse().unwrap(),
            "--consumers" => o.consumers = args.next().unwrap().parse().unwrap(),
            "--depth" => o.depth = args.next().unwrap().parse().unwrap(),
            "--rate" => o.rate = args.next().unwrap().parse().unwrap(),
            "--memory" => o.memory = true,
            "--only" => o.only = args.next(),
            "--herald" => o.herald = Some(args.next().unwrap().parse().unwrap()),
            "--redis" => o.redis = Some(args.next().unwrap().parse().unwrap()),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    o
}

fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A minimal RESP2 client: writes commands, reads replies as flat lists of bulk strings.
struct Conn {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

enum Resp {
    Int(i64),
    Bulks(Vec<Vec<u8>>),
    Nil,
    Status,
}

impl Conn {
    async fn connect(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (r, w) = stream.into_split();
        Conn { reader: BufReader::with_capacity(64 * 1024, r), writer: w }
    }

    async fn line(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        loop {
            let b = self.reader.read_u8().await.unwrap();
            if b == b'\n' {
                line.pop();
                return line;
            }
            line.push(b);
        }
    }

    async fn bulk(&mut self, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len + 2];
        self.reader.read_exact(&mut buf).await.unwrap();
        buf.truncate(len);
        buf
    }

    async fn read(&mut self) -> Resp {
        let line = self.line().await;
        let rest = std::str::from_utf8(&line[1..]).unwrap();
        match line[0] {
            b':' => Resp::Int(rest.parse().unwrap()),
            b'+' => Resp::Status,
            b'-' => panic!("server error: {rest}"),
            b'$' => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    Resp::Nil
                } else {
                    Resp::Bulks(vec![self.bulk(n as usize).await])
                }
            }
            b'*' => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return Resp::Nil;
                }
                let mut items = Vec::new();
                for _ in 0..n {
                    let header = self.line().await;
                    let len: i64 = std::str::from_utf8(&header[1..]).unwrap().parse().unwrap();
                    items.push(self.bulk(len as usize).await);
                }
                Resp::Bulks(items)
            }
            other => panic!("unexpected reply type {}", other as char),
        }
    }

    async fn call(&mut self, args: &[&[u8]]) -> Resp {
        self.writer.write_all(&encode(args)).await.unwrap();
        self.read().await
    }
}

struct Run {
    elapsed_enqueue: Duration,
    elapsed_total: Duration,
    latencies_us: Vec<u32>,
}

/// Pushes `jobs` jobs; `pace` (jobs/s for this producer) spaces them evenly instead of
/// pushing as fast as the server takes them.
async fn produce(addr: SocketAddr, producer: usize, jobs: usize, depth: usize, pace: Option<f64>, clock: Instant) {
    let mut c = Conn::connect(addr).await;
    let mut in_flight = 0;
    let start = tokio::time::Instant::now();
    for seq in 0..jobs {
        if let Some(rate) = pace {
            tokio::time::sleep_until(start + Duration::from_secs_f64(seq as f64 / rate)).await;
        }
        let job = format!("{producer}:{seq}:{}", clock.elapsed().as_nanos());
        c.writer.write_all(&encode(&[b"LPUSH", b"queue", job.as_bytes()])).await.unwrap();
        in_flight += 1;
        if in_flight == depth {
            for _ in 0..in_flight {
                c.read().await;
            }
            in_flight = 0;
        }
    }
    for _ in 0..in_flight {
        c.read().await;
    }
}

async fn consume(addr: SocketAddr, clock: Instant, seen: Arc<Mutex<Vec<Vec<u8>>>>, latencies: Arc<Mutex<Vec<u32>>>) {
    let mut c = Conn::connect(addr).await;
    let mut local_lat = Vec::new();
    let mut local_seen: Vec<(usize, usize)> = Vec::new();
    loop {
        let Resp::Bulks(parts) = c.call(&[b"BRPOP", b"queue", b"0"]).await else { panic!("BRPOP returned no job") };
        let now = clock.elapsed().as_nanos();
        let job = std::str::from_utf8(&parts[1]).unwrap();
        if job == "stop" {
            break;
        }
        let mut fields = job.split(':');
        let producer: usize = fields.next().unwrap().parse().unwrap();
        let seq: usize = fields.next().unwrap().parse().unwrap();
        let sent: u128 = fields.next().unwrap().parse().unwrap();
        local_lat.push(u32::try_from((now.saturating_sub(sent)) / 1000).unwrap_or(u32::MAX));
        local_seen.push((producer, seq));
    }
    let mut seen = seen.lock().await;
    for (p, s) in local_seen {
        seen[p][s] += 1;
    }
    latencies.lock().await.extend(local_lat);
}

async fn queue_run(addr: SocketAddr, o: &Options, paced: bool) -> Run {
    let mut admin = Conn::connect(addr).await;
    admin.call(&[b"DEL", b"queue"]).await;
    // The paced run sends a fixed total rate for a few seconds; latency then measures the
    // server, not a backlog of jobs pushed faster than they can be taken.
    let jobs = if paced { ((o.rate * 4.0) as usize).max(o.producers) } else { o.jobs };
    let per_producer = jobs / o.producers;
    let pace = paced.then(|| o.rate / o.producers as f64);
    let depth = if paced { 1 } else { o.depth };
    let clock = Instant::now();
    let seen = Arc::new(Mutex::new(vec![vec![0u8; per_producer]; o.producers]));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(jobs)));
    let consumers: Vec<_> = (0..o.consumers).map(|_| tokio::spawn(consume(addr, clock, seen.clone(), latencies.clone()))).collect();
    let start = Instant::now();
    let producers: Vec<_> = (0..o.producers).map(|p| tokio::spawn(produce(addr, p, per_producer, depth, pace, clock))).collect();
    for p in producers {
        p.await.unwrap();
    }
    let elapsed_enqueue = start.elapsed();
    // LPUSH + BRPOP is FIFO: the stop markers come out after every job.
    for _ in 0..o.consumers {
        admin.call(&[b"LPUSH", b"queue", b"stop"]).await;
    }
    for c in consumers {
        c.await.unwrap();
    }
    let elapsed_total = start.elapsed();
    let seen = seen.lock().await;
    let duplicates: usize = seen.iter().flatten().filter(|n| **n > 1).count();
    let missing: usize = seen.iter().flatten().filter(|n| **n == 0).count();
    assert_eq!((duplicates, missing), (0, 0), "exactly-once violated: {duplicates} duplicated, {missing} missing");
    let mut latencies_us = std::mem::take(&mut *latencies.lock().await);
    latencies_us.sort_unstable();
    Run { elapsed_enqueue, elapsed_total, latencies_us }
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn used_memory(c: &mut Conn) -> Option<u64> {
    let Resp::Bulks(parts) = c.call(&[b"INFO", b"memory"]).await else { return None };
    let text = String::from_utf8_lossy(parts.first()?).into_owned();
    text.lines().find_map(|l| l.strip_prefix("used_memory:")).and_then(|v| v.trim().parse().ok())
}

/// Loads 1M small elements (`item:0000000`-style, 12 bytes) into one list; returns bytes per
/// element from RSS growth and from `used_memory` growth when the server reports it.
async fn memory_run(addr: SocketAddr, pid: Option<u32>) -> (Option<f64>, Option<f64>) {
    const ELEMENTS: usize = 1_000_000;
    let mut c = Conn::connect(addr).await;
    c.call(&[b"DEL", b"memlist"]).await;
    let rss_before = pid.and_then(rss_kib);
    let used_before = used_memory(&mut c).await;
    let mut pending = 0;
    for chunk in 0..ELEMENTS / 100 {
        let values: Vec<String> = (0..100).map(|i| format!("item:{:07}", chunk * 100 + i)).collect();
        let mut args: Vec<&[u8]> = vec![b"RPUSH", b"memlist"];
        args.extend(values.iter().map(|v| v.as_bytes()));
        c.writer.write_all(&encode(&args)).await.unwrap();
        pending += 1;
        if pending == 32 {
            for _ in 0..pending {
                c.read().await;
            }
            pending = 0;
        }
    }
    for _ in 0..pending {
        c.read().await;
    }
    let Resp::Int(len) = c.call(&[b"LLEN", b"memlist"]).await else { panic!("LLEN") };
    assert_eq!(len as usize, ELEMENTS);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_after = pid.and_then(rss_kib);
    let used_after = used_memory(&mut c).await;
    let per = |before: Option<u64>, after: Option<u64>, scale: f64| match (before, after) {
        (Some(b), Some(a)) if a > b => Some((a - b) as f64 * scale / ELEMENTS as f64),
        _ => None,
    };
    let result = (per(rss_before, rss_after, 1024.0), per(used_before, used_after, 1.0));
    c.call(&[b"DEL", b"memlist"]).await;
    result
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Server {
    name: &'static str,
    addr: SocketAddr,
    child: Option<Child>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn wait_ready(addr: SocketAddr) {
    for _ in 0..500 {
        if TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("server at {addr} did not start");
}

async fn start_servers(o: &Options) -> Vec<Server> {
    let mut servers = Vec::new();
    let want = |name: &str| o.only.as_deref().is_none_or(|only| only == name);
    if want("herald") {
        let (addr, child) = match o.herald {
            Some(addr) => (addr, None),
            None => {
                let port = free_port();
                let bin = std::env::var("HERALD_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_herald").to_string());
                let child = Command::new(bin).args(["--port", &port.to_string(), "--bind", "127.0.0.1"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start herald");
                (SocketAddr::from(([127, 0, 0, 1], port)), Some(child))
            }
        };
        wait_ready(addr).await;
        servers.push(Server { name: "herald", addr, child });
    }
    if want("redis") {
        let (addr, child) = match o.redis {
            Some(addr) => (addr, None),
            None => {
                let port = free_port();
                let child = Command::new("redis-server")
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("start redis-server");
                (SocketAddr::from(([127, 0, 0, 1], port)), Some(child))
            }
        };
        wait_ready(addr).await;
        servers.push(Server { name: "redis", addr, child });
    }
    servers
}

#[tokio::main]
async fn main() {
    let o = options();
    let servers = start_servers(&o).await;
    println!(
        "queue load: {} jobs, {} producers (LPUSH, pipeline depth {}), {} consumers (BRPOP)",
        o.jobs, o.producers, o.depth, o.consumers
    );
    println!("latency is measured in a second, paced run at {} jobs/s in total (one LPUSH in flight per producer)", o.rate);
    println!("{:<8} {:>12} {:>12} {:>9} {:>9} {:>9}  exactly-once", "server", "enqueued/s", "dequeued/s", "p50 us", "p99 us", "max us");
    let mut rates = Vec::new();
    for server in &servers {
        let run = queue_run(server.addr, &o, false).await;
        let enq = o.jobs as f64 / run.elapsed_enqueue.as_secs_f64();
        let deq = o.jobs as f64 / run.elapsed_total.as_secs_f64();
        let paced = queue_run(server.addr, &o, true).await;
        let l = &paced.latencies_us;
        println!(
            "{:<8} {:>12.0} {:>12.0} {:>9} {:>9} {:>9}  ok ({} + {} jobs)",
            server.name,
            enq,
            deq,
            percentile(l, 0.5),
            percentile(l, 0.99),
            l.last().copied().unwrap_or(0),
            run.latencies_us.len(),
            l.len()
        );
        rates.push((server.name, enq, deq, percentile(l, 0.5), percentile(l, 0.99)));
    }
    if let [(_, he, hd, hp50, hp99), (_, re, rd, rp50, rp99)] = rates[..] {
        println!(
            "herald/redis: enqueue {:.2}x, dequeue {:.2}x, p50 latency {:.2}x, p99 latency {:.2}x (latency: lower is better)",
            he / re,
            hd / rd,
            f64::from(hp50) / f64::from(rp50.max(1)),
            f64::from(hp99) / f64::from(rp99.max(1))
        );
    }
    if o.memory {
        println!("memory: 1,000,000 elements of 12 bytes in one list (RPUSH)");
        for server in &servers {
            let pid = server.child.as_ref().map(Child::id);
            let (rss, used) = memory_run(server.addr, pid).await;
            let show = |v: Option<f64>| v.map_or("n/a".to_string(), |b| format!("{b:.1}"));
            println!("{:<8} bytes/element: RSS growth {:>6}, used_memory growth {:>6}", server.name, show(rss), show(used));
        }
    }
}
