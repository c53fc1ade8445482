//! The stream load generator: producers `XADD` entries, a consumer group reads them with
//! `XREADGROUP ... COUNT 100 BLOCK` and acknowledges each batch with one `XACK`, against Herald
//! and `redis-server` in one run, with the same client code for both, the servers alternating
//! round by round so background load falls on both.
//!
//! Reports added/s, delivered/s (entries read and acknowledged), end-to-end latency p50/p99/max
//! (from a timestamp carried in each entry to the moment its consumer parsed it), the server's
//! CPU time per entry during the unpaced run (user + system, all threads, from /proc: on a busy
//! machine the steadier number), and checks that
//! every entry was delivered once and acknowledged once (every `XACK` must count all its IDs and
//! `XPENDING` must be empty at the end; the run fails otherwise). With `--memory` it also loads
//! 1,000,000 small entries into one stream on a freshly started server and reports bytes per
//! entry from `INFO memory`'s `used_memory` growth (Herald reports its process RSS there) and
//! from the process's RSS growth.
//!
//! ```text
//! cargo bench --bench stream_load -- [--entries 200000] [--producers 4] [--consumers 4]
//!     [--depth 16] [--rate 5000] [--rounds 2] [--memory] [--only herald|redis] [--no-pin]
//!     [--herald host:port] [--redis host:port]
//! ```
//!
//! Without `--herald`/`--redis` it starts both servers itself (Herald from the release binary
//! next to this bench or `$HERALD_BIN`, `redis-server` from `PATH`) on free loopback ports,
//! persistence off. On a machine with two or more CPUs the servers run pinned to CPU 1 and this
//! process to CPU 0 (as `compare.sh` does: one core for the server, one for the load), unless
//! `--no-pin`.
//!
//! Each entry is `p <producer> q <seq> t <ns since start>`; the timestamp is taken just before
//! the `XADD` is written, from a clock shared by producers and consumers (one process). Latency
//! comes from a second, paced run (`--rate` entries/s in total, one `XADD` in flight per
//! producer) so that it measures the server and not a backlog of entries pushed faster than the
//! group takes them; the unpaced run gives the throughput.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

#[derive(Clone)]
struct Options {
    entries: usize,
    producers: usize,
    consumers: usize,
    depth: usize,
    rate: f64,
    rounds: usize,
    memory: bool,
    pin: bool,
    only: Option<String>,
    herald: Option<SocketAddr>,
    redis: Option<SocketAddr>,
}

fn options() -> Options {
    let mut o = Options {
        entries: 200_000,
        producers: 4,
        consumers: 4,
        depth: 16,
        rate: 5000.0,
        rounds: 2,
        memory: false,
        pin: std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2,
        only: None,
        herald: None,
        redis: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--entries" => o.entries = args.next().unwrap().parse().unwrap(),
            "--producers" => o.producers = args.next().unwrap().parse().unwrap(),
            "--consumers" => o.consumers = args.next().unwrap().parse().unwrap(),
            "--depth" => o.depth = args.next().unwrap().parse().unwrap(),
            "--rate" => o.rate = args.next().unwrap().parse().unwrap(),
            "--rounds" => o.rounds = args.next().unwrap().parse().unwrap(),
            "--memory" => o.memory = true,
            "--no-pin" => o.pin = false,
            "--only" => o.only = args.next(),
            "--herald" => o.herald = Some(args.next().unwrap().parse().unwrap()),
            "--redis" => o.redis = Some(args.next().unwrap().parse().unwrap()),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    o
}

fn encode_into(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// A RESP2 reply.
#[derive(Debug)]
enum V {
    Int(i64),
    Bulk(Vec<u8>),
    Arr(Vec<V>),
    Nil,
    Status,
}

impl V {
    fn arr(self) -> Vec<V> {
        match self {
            V::Arr(items) => items,
            other => panic!("expected an array, got {other:?}"),
        }
    }
    fn bulk(self) -> Vec<u8> {
        match self {
            V::Bulk(b) => b,
            other => panic!("expected a bulk string, got {other:?}"),
        }
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// Parses one reply from the front of `buf`: `None` when incomplete, else the reply and the
/// bytes it took.
fn parse(buf: &[u8]) -> Option<(V, usize)> {
    let end = find_crlf(buf)?;
    let line = std::str::from_utf8(&buf[1..end]).unwrap();
    let after = end + 2;
    match buf[0] {
        b':' => Some((V::Int(line.parse().unwrap()), after)),
        b'+' => Some((V::Status, after)),
        b'-' => panic!("server error: {line}"),
        b'$' => {
            let n: i64 = line.parse().unwrap();
            if n < 0 {
                return Some((V::Nil, after));
            }
            let n = n as usize;
            if buf.len() < after + n + 2 {
                return None;
            }
            Some((V::Bulk(buf[after..after + n].to_vec()), after + n + 2))
        }
        b'*' => {
            let n: i64 = line.parse().unwrap();
            if n < 0 {
                return Some((V::Nil, after));
            }
            let mut items = Vec::with_capacity(n as usize);
            let mut at = after;
            for _ in 0..n {
                let (v, used) = parse(&buf[at..])?;
                items.push(v);
                at += used;
            }
            Some((V::Arr(items), at))
        }
        other => panic!("unexpected reply type {}", other as char),
    }
}

/// A minimal pipelining RESP2 client.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    out: Vec<u8>,
}

impl Conn {
    async fn connect(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Conn { stream, buf: Vec::with_capacity(64 * 1024), start: 0, out: Vec::new() }
    }

    fn queue(&mut self, args: &[&[u8]]) {
        encode_into(&mut self.out, args);
    }

    async fn flush(&mut self) {
        self.stream.write_all(&self.out).await.unwrap();
        self.out.clear();
    }

    async fn read(&mut self) -> V {
        loop {
            if self.start < self.buf.len() {
                if let Some((v, used)) = parse(&self.buf[self.start..]) {
                    self.start += used;
                    if self.start == self.buf.len() {
                        self.buf.clear();
                        self.start = 0;
                    }
                    return v;
                }
            }
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            let len = self.buf.len();
            self.buf.resize(len + 64 * 1024, 0);
            let n = self.stream.read(&mut self.buf[len..]).await.unwrap();
            assert!(n > 0, "server closed the connection");
            self.buf.truncate(len + n);
        }
    }

    async fn call(&mut self, args: &[&[u8]]) -> V {
        self.queue(args);
        self.flush().await;
        self.read().await
    }
}

struct Run {
    added_s: f64,
    delivered_s: f64,
    latencies_us: Vec<u32>,
}

/// Adds `entries` entries; `pace` (entries/s for this producer) spaces them evenly instead of
/// adding as fast as the server takes them.
async fn produce(addr: SocketAddr, producer: usize, entries: usize, depth: usize, pace: Option<f64>, clock: Instant) {
    let mut c = Conn::connect(addr).await;
    let mut in_flight = 0;
    let start = tokio::time::Instant::now();
    let p = producer.to_string();
    for seq in 0..entries {
        if let Some(rate) = pace {
            tokio::time::sleep_until(start + Duration::from_secs_f64(seq as f64 / rate)).await;
        }
        let q = seq.to_string();
        let t = clock.elapsed().as_nanos().to_string();
        c.queue(&[b"XADD", b"s", b"*", b"p", p.as_bytes(), b"q", q.as_bytes(), b"t", t.as_bytes()]);
        in_flight += 1;
        if in_flight == depth {
            c.flush().await;
            for _ in 0..in_flight {
                c.read().await.bulk();
            }
            in_flight = 0;
        }
    }
    c.flush().await;
    for _ in 0..in_flight {
        c.read().await.bulk();
    }
}

struct Shared {
    total: usize,
    acked: AtomicUsize,
    seen: Mutex<Vec<Vec<u8>>>,
    latencies: Mutex<Vec<u32>>,
    last_delivery: Mutex<Instant>,
}

/// One group member: `XREADGROUP GROUP g <name> COUNT 100 BLOCK 100 STREAMS s >`, then one
/// `XACK` for the whole batch, until the group has acknowledged every entry.
async fn consume(addr: SocketAddr, name: String, clock: Instant, shared: Arc<Shared>) {
    let mut c = Conn::connect(addr).await;
    let mut local_lat = Vec::new();
    let mut local_seen: Vec<(usize, usize)> = Vec::new();
    let mut last = None;
    while shared.acked.load(Ordering::Relaxed) < shared.total {
        let reply = c.call(&[b"XREADGROUP", b"GROUP", b"g", name.as_bytes(), b"COUNT", b"100", b"BLOCK", b"100", b"STREAMS", b"s", b">"]).await;
        let now = clock.elapsed().as_nanos();
        let V::Arr(streams) = reply else { continue };
        let mut ack: Vec<Vec<u8>> = Vec::new();
        for stream in streams {
            let mut parts = stream.arr().into_iter();
            let _key = parts.next();
            for entry in parts.next().unwrap().arr() {
                let mut e = entry.arr().into_iter();
                let id = e.next().unwrap().bulk();
                let fields: Vec<Vec<u8>> = e.next().unwrap().arr().into_iter().map(V::bulk).collect();
                let mut producer = None;
                let mut seq = None;
                let mut sent = None;
                for pair in fields.chunks(2) {
                    let value = std::str::from_utf8(&pair[1]).unwrap();
                    match pair[0].as_slice() {
                        b"p" => producer = Some(value.parse::<usize>().unwrap()),
                        b"q" => seq = Some(value.parse::<usize>().unwrap()),
                        b"t" => sent = Some(value.parse::<u128>().unwrap()),
                        _ => {}
                    }
                }
                local_lat.push(u32::try_from(now.saturating_sub(sent.unwrap()) / 1000).unwrap_or(u32::MAX));
                local_seen.push((producer.unwrap(), seq.unwrap()));
                ack.push(id);
            }
        }
        if ack.is_empty() {
            continue;
        }
        let mut args: Vec<&[u8]> = vec![b"XACK", b"s", b"g"];
        args.extend(ack.iter().map(Vec::as_slice));
        let V::Int(n) = c.call(&args).await else { panic!("XACK did not return an integer") };
        assert_eq!(n as usize, ack.len(), "XACK acknowledged {n} of {} IDs: an entry was acknowledged twice", ack.len());
        shared.acked.fetch_add(ack.len(), Ordering::Relaxed);
        last = Some(Instant::now());
    }
    if let Some(last) = last {
        let mut l = shared.last_delivery.lock().await;
        if last > *l {
            *l = last;
        }
    }
    let mut seen = shared.seen.lock().await;
    for (p, s) in local_seen {
        seen[p][s] += 1;
    }
    shared.latencies.lock().await.extend(local_lat);
}

async fn stream_run(addr: SocketAddr, o: &Options, paced: bool) -> Run {
    let mut admin = Conn::connect(addr).await;
    admin.call(&[b"DEL", b"s"]).await;
    admin.call(&[b"XGROUP", b"CREATE", b"s", b"g", b"$", b"MKSTREAM"]).await;
    let entries = if paced { ((o.rate * 4.0) as usize).max(o.producers) } else { o.entries };
    let per_producer = entries / o.producers;
    let total = per_producer * o.producers;
    let pace = paced.then(|| o.rate / o.producers as f64);
    let depth = if paced { 1 } else { o.depth };
    let clock = Instant::now();
    let shared = Arc::new(Shared {
        total,
        acked: AtomicUsize::new(0),
        seen: Mutex::new(vec![vec![0u8; per_producer]; o.producers]),
        latencies: Mutex::new(Vec::with_capacity(total)),
        last_delivery: Mutex::new(clock),
    });
    let consumers: Vec<_> = (0..o.consumers).map(|i| tokio::spawn(consume(addr, format!("c{i}"), clock, shared.clone()))).collect();
    let start = Instant::now();
    let producers: Vec<_> = (0..o.producers).map(|p| tokio::spawn(produce(addr, p, per_producer, depth, pace, clock))).collect();
    for p in producers {
        p.await.unwrap();
    }
    let elapsed_add = start.elapsed();
    for c in consumers {
        c.await.unwrap();
    }
    let elapsed_delivered = shared.last_delivery.lock().await.duration_since(start);
    let seen = shared.seen.lock().await;
    let duplicates: usize = seen.iter().flatten().filter(|n| **n > 1).count();
    let missing: usize = seen.iter().flatten().filter(|n| **n == 0).count();
    assert_eq!((duplicates, missing), (0, 0), "exactly-once violated: {duplicates} delivered twice, {missing} never delivered");
    let pending = admin.call(&[b"XPENDING", b"s", b"g"]).await.arr();
    let V::Int(pending) = pending.into_iter().next().unwrap() else { panic!("XPENDING count") };
    assert_eq!(pending, 0, "entries left pending after the run");
    let mut latencies_us = std::mem::take(&mut *shared.latencies.lock().await);
    latencies_us.sort_unstable();
    admin.call(&[b"DEL", b"s"]).await;
    Run {
        added_s: total as f64 / elapsed_add.as_secs_f64(),
        delivered_s: total as f64 / elapsed_delivered.as_secs_f64(),
        latencies_us,
    }
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// User + system CPU seconds the process has used so far (all threads; /proc/<pid>/stat fields
/// 14 and 15, in clock ticks of 1/100 s as on every Linux this runs on).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; count fields after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|k| k * 1024)
}

async fn used_memory(c: &mut Conn) -> Option<u64> {
    let text = String::from_utf8_lossy(&c.call(&[b"INFO", b"memory"]).await.bulk()).into_owned();
    text.lines().find_map(|l| l.strip_prefix("used_memory:")).and_then(|v| v.trim().parse().ok())
}

const MEMORY_ENTRIES: usize = 1_000_000;

/// Loads 1M entries `XADD mem * field value:<7 digits> n <0..999>` (two small fields) with
/// pipelined XADDs; returns bytes per entry from `used_memory` growth and from RSS growth.
async fn memory_run(addr: SocketAddr, pid: Option<u32>) -> (Option<f64>, Option<f64>) {
    let mut c = Conn::connect(addr).await;
    c.call(&[b"DEL", b"mem"]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let used_before = used_memory(&mut c).await;
    let rss_before = pid.and_then(rss_bytes);
    const DEPTH: usize = 256;
    for chunk in 0..MEMORY_ENTRIES / DEPTH + 1 {
        let from = chunk * DEPTH;
        let to = (from + DEPTH).min(MEMORY_ENTRIES);
        for i in from..to {
            let value = format!("value:{i:07}");
            let n = (i % 1000).to_string();
            c.queue(&[b"XADD", b"mem", b"*", b"field", value.as_bytes(), b"n", n.as_bytes()]);
        }
        c.flush().await;
        for _ in from..to {
            c.read().await.bulk();
        }
    }
    let V::Int(len) = c.call(&[b"XLEN", b"mem"]).await else { panic!("XLEN") };
    assert_eq!(len as usize, MEMORY_ENTRIES);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let used_after = used_memory(&mut c).await;
    let rss_after = pid.and_then(rss_bytes);
    let per = |before: Option<u64>, after: Option<u64>| match (before, after) {
        (Some(b), Some(a)) if a > b => Some((a - b) as f64 / MEMORY_ENTRIES as f64),
        _ => None,
    };
    let result = (per(used_before, used_after), per(rss_before, rss_after));
    c.call(&[b"DEL", b"mem"]).await;
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

/// Starts `name` on a free port (pinned to CPU 1 when `pin`), or uses the given address.
async fn start_server(name: &'static str, given: Option<SocketAddr>, pin: bool) -> Server {
    if let Some(addr) = given {
        wait_ready(addr).await;
        return Server { name, addr, child: None };
    }
    let port = free_port().to_string();
    let (bin, args): (String, Vec<&str>) = if name == "herald" {
        let bin = std::env::var("HERALD_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_herald").to_string());
        (bin, vec!["--port", &port, "--bind", "127.0.0.1"])
    } else {
        ("redis-server".to_string(), vec!["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
    };
    let mut cmd = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "1", &bin]);
        c
    } else {
        Command::new(&bin)
    };
    let child = cmd.args(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
    let addr = SocketAddr::from(([127, 0, 0, 1], port.parse().unwrap()));
    wait_ready(addr).await;
    Server { name, addr, child: Some(child) }
}

async fn start_servers(o: &Options) -> Vec<Server> {
    let want = |name: &str| o.only.as_deref().is_none_or(|only| only == name);
    let mut servers = Vec::new();
    if want("herald") {
        servers.push(start_server("herald", o.herald, o.pin).await);
    }
    if want("redis") {
        servers.push(start_server("redis", o.redis, o.pin).await);
    }
    servers
}

async fn run(o: Options) {
    let servers = start_servers(&o).await;
    println!(
        "stream load: {} entries, {} producers (XADD, pipeline depth {}), group of {} consumers (XREADGROUP COUNT 100 BLOCK 100 + XACK per batch); pinned: {}",
        o.entries,
        o.producers,
        o.depth,
        o.consumers,
        if o.pin { "servers on CPU 1, load generator on CPU 0" } else { "no" }
    );
    println!("latency is measured in a second, paced run at {} entries/s in total (one XADD in flight per producer)", o.rate);
    for round in 1..=o.rounds {
        println!("## round {round} of {}", o.rounds);
        println!(
            "{:<8} {:>10} {:>12} {:>9} {:>9} {:>9} {:>13}  exactly-once acked",
            "server", "added/s", "delivered/s", "p50 us", "p99 us", "max us", "cpu us/entry"
        );
        let mut rows = Vec::new();
        // Alternate which server goes first, so neither always runs on the warmer or quieter
        // side of a round; rows are still printed (and compared) herald first.
        let mut order: Vec<usize> = (0..servers.len()).collect();
        if round % 2 == 0 {
            order.reverse();
        }
        let mut lines = vec![String::new(); servers.len()];
        rows.resize(servers.len(), (0.0, 0.0, 0, 0));
        for i in order {
            let server = &servers[i];
            let pid = server.child.as_ref().map(Child::id);
            let cpu_before = pid.and_then(cpu_seconds);
            let load = stream_run(server.addr, &o, false).await;
            let cpu_us = match (cpu_before, pid.and_then(cpu_seconds)) {
                (Some(b), Some(a)) => format!("{:.2}", (a - b) * 1e6 / load.latencies_us.len() as f64),
                _ => "n/a".to_string(),
            };
            let paced = stream_run(server.addr, &o, true).await;
            let l = &paced.latencies_us;
            lines[i] = format!(
                "{:<8} {:>10.0} {:>12.0} {:>9} {:>9} {:>9} {:>13}  ok ({} + {} entries)",
                server.name,
                load.added_s,
                load.delivered_s,
                percentile(l, 0.5),
                percentile(l, 0.99),
                l.last().copied().unwrap_or(0),
                cpu_us,
                load.latencies_us.len(),
                l.len()
            );
            rows[i] = (load.added_s, load.delivered_s, percentile(l, 0.5), percentile(l, 0.99));
        }
        for line in lines {
            println!("{line}");
        }
        if let [(ha, hd, hp50, hp99), (ra, rd, rp50, rp99)] = rows[..] {
            println!(
                "herald/redis: added {:.2}x, delivered {:.2}x, p50 latency {:.2}x, p99 latency {:.2}x (latency: lower is better)",
                ha / ra,
                hd / rd,
                f64::from(hp50) / f64::from(rp50.max(1)),
                f64::from(hp99) / f64::from(rp99.max(1))
            );
        }
    }
    drop(servers);
    if o.memory {
        println!("memory: {MEMORY_ENTRIES} entries `XADD mem * field value:<7 digits> n <0..999>` in one stream, pipelined; a fresh server per measurement");
        println!("(Herald's INFO used_memory is its process RSS, so its two columns measure the same thing)");
        for round in 1..=o.rounds {
            let mut per = Vec::new();
            for (name, given) in [("herald", o.herald), ("redis", o.redis)] {
                if o.only.as_deref().is_some_and(|only| only != name) {
                    continue;
                }
                let server = start_server(name, given, o.pin).await;
                let pid = server.child.as_ref().map(|c| c.id());
                let (used, rss) = memory_run(server.addr, pid).await;
                let show = |v: Option<f64>| v.map_or("n/a".to_string(), |b| format!("{b:.1}"));
                println!("round {round} {:<8} bytes/entry: used_memory growth {:>6}, RSS growth {:>6}", name, show(used), show(rss));
                per.push(used);
            }
            if let [Some(h), Some(r)] = per[..] {
                println!("round {round} herald/redis used_memory per entry: {:.2}x (lower is better)", h / r);
            }
        }
    }
}

fn main() {
    let o = options();
    // Pin this process (all its threads, before the runtime starts them) to CPU 0, so that the
    // server has CPU 1 to itself; tokio then sizes its pool to one worker.
    if o.pin {
        let _ = Command::new("taskset").args(["-a", "-p", "-c", "0", &std::process::id().to_string()]).stdout(Stdio::null()).status();
    }
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(run(o));
}
