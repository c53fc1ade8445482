//! Differential tests: every `tests/differential/*.redis` script runs against Herald and against
//! a real `redis-server`, and the replies must match byte for byte.
//!
//! Script format (see `tests/differential/README.md`): one command per line, words split with
//! redis-cli quoting; `#` comments and blank lines are ignored; a line starting with `~ `
//! compares only the reply's first byte (its type), for time-dependent replies.
//!
//! Each script runs twice: once in RESP2, and once after `HELLO 3` (whose reply is compared
//! too, except the server's version and the connection id). Each pass gets a fresh Herald
//! (in-process) and a fresh `redis-server` child process, both FLUSHALL'd first. Every mismatch
//! is collected and the test fails at the end listing them all, with `file:line`, the command
//! and both replies.
//!
//! `redis-server` comes from `PATH` (Debian's `redis-server` package, which `.ci/run`
//! installs), or from the path in `HERALD_REDIS_SERVER`. A missing server fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::RawClient;
use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long one reply may take before it counts as missing. A safety net against a hung
/// server, not a timing assertion: every reply in the scripts is immediate.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// One test per script. Scripts not listed here still run, in `unlisted_scripts_also_match`.
macro_rules! differential_scripts {
    ($($name:ident),* $(,)?) => {
        const LISTED: &[&str] = &[$(stringify!($name)),*];
        $(
            #[tokio::test]
            async fn $name() {
                run_scripts(&[script_path(stringify!($name))]).await;
            }
        )*
    };
}

differential_scripts!(connection, geo, hashes, keys, lists, protocol, pubsub, scripting, scripting_functions, scripting_libs, server, sets, sort, streams, strings, transactions, zsets);

/// Runs every script in `tests/differential/` that has no test of its own above, so a new
/// script is never silently skipped.
#[tokio::test]
async fn unlisted_scripts_also_match() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential");
    let mut unlisted: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "redis"))
        .filter(|path| {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            !LISTED.contains(&stem)
        })
        .collect();
    unlisted.sort();
    run_scripts(&unlisted).await;
}

#[test]
fn script_lines_parse_with_redis_cli_quoting() {
    let lines = parse_script("# comment\n\nSET k \"a b\\x00\"\n~ TTL 'k'\n").unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].number, 3);
    assert_eq!(lines[0].args, vec![b"SET".to_vec(), b"k".to_vec(), b"a b\0".to_vec()]);
    assert!(!lines[0].type_only);
    assert_eq!(lines[1].args, vec![b"TTL".to_vec(), b"k".to_vec()]);
    assert!(lines[1].type_only);
    assert!(parse_script("SET \"unterminated\n").is_err());
}

#[test]
fn hello_replies_compare_equal_except_version_and_id() {
    let ours = b"%2\r\n$7\r\nversion\r\n$5\r\n7.4.0\r\n$2\r\nid\r\n:9\r\n";
    let theirs = b"%2\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$2\r\nid\r\n:3\r\n";
    assert!(hello_replies_match(ours, theirs));
    let other_proto = b"%2\r\n$7\r\nversion\r\n$5\r\n7.4.0\r\n$5\r\nproto\r\n:2\r\n";
    assert!(!hello_replies_match(other_proto, theirs));
}

fn script_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential").join(format!("{name}.redis"))
}

/// One command of a script.
#[derive(Debug)]
struct Line {
    /// 1-based line number in the file.
    number: usize,
    /// The line as written (without a `~ ` prefix), for reports.
    text: String,
    args: Vec<Vec<u8>>,
    /// Compare only the reply's first byte.
    type_only: bool,
}

fn parse_script(source: &str) -> Result<Vec<Line>, String> {
    let mut lines = Vec::new();
    for (index, raw) in source.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (type_only, text) = match trimmed.strip_prefix("~ ") {
            Some(rest) => (true, rest.trim()),
            None => (false, trimmed),
        };
        let args = herald::resp::split_inline_args(text.as_bytes())
            .map_err(|e| format!("line {}: {}: {}", index + 1, e.message(), text))?;
        if args.is_empty() {
            return Err(format!("line {}: no command after '~ '", index + 1));
        }
        lines.push(Line {
            number: index + 1,
            text: text.to_string(),
            args: args.into_iter().map(|a| a.to_vec()).collect(),
            type_only,
        });
    }
    Ok(lines)
}

/// Runs each script in both protocols and panics listing every mismatch.
async fn run_scripts(paths: &[PathBuf]) {
    let mut mismatches = Vec::new();
    let mut commands = 0;
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read differential script {}: {e}", path.display()));
        let lines = parse_script(&source).unwrap_or_else(|e| panic!("{name}: {e}"));
        for protocol in [2, 3] {
            commands += lines.len();
            mismatches.extend(run_pass(&name, &lines, protocol).await);
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} replies differ between Herald and redis-server:\n\n{}",
        mismatches.len(),
        commands,
        mismatches.join("\n")
    );
}

/// One run of a script against fresh servers; returns the mismatches as report paragraphs.
async fn run_pass(file: &str, lines: &[Line], protocol: u8) -> Vec<String> {
    let herald = common::start().await;
    let redis = RedisServer::start().await;
    let mut pair = Pair {
        herald_addr: herald.addr,
        redis_addr: redis.addr,
        herald: RawClient::connect(herald.addr).await,
        redis: RawClient::connect(redis.addr).await,
        protocol,
    };
    let mut mismatches = Vec::new();
    let label = format!("RESP{protocol}");

    let (ours, theirs) = pair.call(&[b"FLUSHALL".to_vec()]).await;
    if ours != theirs {
        mismatches.push(report(&format!("{file}:0 [{label}] (setup)"), "FLUSHALL", &ours, &theirs));
    }
    if protocol == 3 {
        let (ours, theirs) = pair.call(&[b"HELLO".to_vec(), b"3".to_vec()]).await;
        let same = match (&ours, &theirs) {
            (Outcome::Reply(a), Outcome::Reply(b)) => hello_replies_match(a, b),
            _ => ours == theirs,
        };
        if !same {
            mismatches.push(report(&format!("{file}:0 [{label}] (setup)"), "HELLO 3", &ours, &theirs));
        }
    }

    for line in lines {
        let (ours, theirs) = pair.call(&line.args).await;
        let same = if line.type_only {
            ours.first_byte() == theirs.first_byte() && ours.is_reply() == theirs.is_reply()
        } else {
            ours == theirs
        };
        if !same {
            let mode = if line.type_only { " (type only)" } else { "" };
            mismatches.push(report(&format!("{file}:{} [{label}]{mode}", line.number), &line.text, &ours, &theirs));
        }
    }
    mismatches
}

/// What came back for one command on one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// A complete reply, as its exact bytes.
    Reply(Vec<u8>),
    /// The server closed the connection instead of replying.
    Closed,
    /// No complete reply within [`REPLY_TIMEOUT`] (or an unparseable one).
    TimedOut,
}

impl Outcome {
    fn first_byte(&self) -> Option<u8> {
        match self {
            Outcome::Reply(bytes) => bytes.first().copied(),
            _ => None,
        }
    }

    fn is_reply(&self) -> bool {
        matches!(self, Outcome::Reply(_))
    }
}

/// The two connections a pass compares.
struct Pair {
    herald_addr: SocketAddr,
    redis_addr: SocketAddr,
    herald: RawClient,
    redis: RawClient,
    protocol: u8,
}

impl Pair {
    /// Sends one command to both servers and returns both outcomes. A connection that gave no
    /// reply is replaced by a new one (in the same protocol), so one closed connection or one
    /// broken frame does not hide the rest of the script behind timeouts.
    async fn call(&mut self, args: &[Vec<u8>]) -> (Outcome, Outcome) {
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let ours = call(&mut self.herald, &args).await;
        let theirs = call(&mut self.redis, &args).await;
        if !ours.is_reply() {
            self.herald = connect_in(self.herald_addr, self.protocol).await;
        }
        if !theirs.is_reply() {
            self.redis = connect_in(self.redis_addr, self.protocol).await;
        }
        (ours, theirs)
    }
}

async fn call(client: &mut RawClient, args: &[&[u8]]) -> Outcome {
    client.send_command(args).await;
    match tokio::time::timeout(REPLY_TIMEOUT, client.read_reply()).await {
        Ok(Some(reply)) => Outcome::Reply(reply),
        Ok(None) => Outcome::Closed,
        Err(_) => Outcome::TimedOut,
    }
}

async fn connect_in(addr: SocketAddr, protocol: u8) -> RawClient {
    let mut client = RawClient::connect(addr).await;
    if protocol == 3 {
        client.send_command(&[b"HELLO", b"3"]).await;
        let _ = tokio::time::timeout(REPLY_TIMEOUT, client.read_reply()).await;
    }
    client
}

fn report(location: &str, command: &str, ours: &Outcome, theirs: &Outcome) -> String {
    format!("{location}: {command}\n    herald: {}\n    redis:  {}\n", show(ours), show(theirs))
}

fn show(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Closed => "(connection closed without a reply)".into(),
        Outcome::TimedOut => format!("(no complete reply within {}s)", REPLY_TIMEOUT.as_secs()),
        Outcome::Reply(bytes) => {
            let mut out = String::with_capacity(bytes.len() + 2);
            out.push('"');
            for &b in bytes {
                let _ = write!(out, "{}", std::ascii::escape_default(b));
            }
            out.push('"');
            out
        }
    }
}

/// Compares two HELLO replies token by token, ignoring the values of `version` and `id`.
fn hello_replies_match(ours: &[u8], theirs: &[u8]) -> bool {
    fn masked(reply: &[u8]) -> Option<Vec<Vec<u8>>> {
        let mut tokens = tokens(reply)?;
        for i in 1..tokens.len() {
            let key = &tokens[i - 1];
            if key == b"$7\r\nversion\r\n" || key == b"$2\r\nid\r\n" {
                tokens[i] = b"<masked>".to_vec();
            }
        }
        Some(tokens)
    }
    match (masked(ours), masked(theirs)) {
        (Some(a), Some(b)) => a == b,
        _ => ours == theirs,
    }
}

/// Splits a RESP reply into its header lines, each bulk-like element kept whole with its data.
fn tokens(mut reply: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while !reply.is_empty() {
        let line_end = reply.windows(2).position(|w| w == b"\r\n")? + 2;
        let mut end = line_end;
        if matches!(reply[0], b'$' | b'=' | b'!') {
            let len: i64 = std::str::from_utf8(&reply[1..line_end - 2]).ok()?.parse().ok()?;
            if len >= 0 {
                end += usize::try_from(len).ok()? + 2;
            }
        }
        out.push(reply.get(..end)?.to_vec());
        reply = &reply[end..];
    }
    Some(out)
}

/// A `redis-server` child process on a free loopback port, killed on drop.
struct RedisServer {
    addr: SocketAddr,
    child: Child,
    _dir: TempDir,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A scratch directory for redis-server's working files, removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl RedisServer {
    /// The binary: `HERALD_REDIS_SERVER`, or `redis-server` from `PATH`.
    fn binary() -> PathBuf {
        std::env::var_os("HERALD_REDIS_SERVER").map_or_else(|| PathBuf::from("redis-server"), PathBuf::from)
    }

    /// Starts a server and waits until it logs that it accepts connections. A port taken by
    /// someone else between our probe and its bind makes it exit; then we try another port.
    async fn start() -> RedisServer {
        let binary = Self::binary();
        let mut failures = Vec::new();
        for attempt in 0..5 {
            let port = {
                let probe = TcpListener::bind("127.0.0.1:0").expect("bind a probe socket");
                probe.local_addr().expect("probe address").port()
            };
            let dir = TempDir(std::env::temp_dir().join(format!(
                "herald-differential-{}-{port}-{attempt}",
                std::process::id()
            )));
            std::fs::create_dir_all(&dir.0).expect("create redis-server's working directory");
            let spawned = Command::new(&binary)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&dir.0)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn();
            let mut child = match spawned {
                Ok(child) => child,
                Err(e) => panic!(
                    "cannot start {} ({e}). The differential tests need a real Redis: install \
                     Debian's redis-server package (`apt-get install -y redis-server`, as .ci/run \
                     does) or set HERALD_REDIS_SERVER to a redis-server binary.",
                    binary.display()
                ),
            };
            let stdout = child.stdout.take().expect("piped stdout");
            let mut log = BufReader::new(stdout).lines();
            let mut seen = Vec::new();
            let ready = tokio::time::timeout(Duration::from_secs(30), async {
                while let Ok(Some(line)) = log.next_line().await {
                    let ready = line.contains("Ready to accept connections");
                    seen.push(line);
                    if ready {
                        return true;
                    }
                }
                false
            })
            .await
            .unwrap_or(false);
            if ready {
                // Keep draining its log so the server never blocks on a full pipe.
                tokio::spawn(async move { while let Ok(Some(_)) = log.next_line().await {} });
                return RedisServer { addr: SocketAddr::from(([127, 0, 0, 1], port)), child, _dir: dir };
            }
            let _ = child.start_kill();
            failures.push(format!("port {port}:\n{}", seen.join("\n")));
        }
        panic!("redis-server ({}) did not start after 5 attempts:\n{}", binary.display(), failures.join("\n\n"));
    }
}
