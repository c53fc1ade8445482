//! Server administration over a real socket: DBSIZE and the FLUSH commands, TIME, SHUTDOWN,
//! CONFIG (GET/SET/RESETSTAT/REWRITE and the limits it controls), INFO and COMMAND.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::text::text_of;
use common::RawClient;
use std::sync::atomic::Ordering;
use tokio::io::AsyncReadExt;
use std::time::Duration;

/// A safety net for awaits that must finish (a connection closing), not a timing assertion.
const BOUND: Duration = Duration::from_secs(10);

async fn info(raw: &mut RawClient, section: &str) -> String {
    text_of(&raw.call(&[b"INFO", section.as_bytes()]).await)
}

/// The value of `name` in INFO text.
fn info_field(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(':')).map(str::to_string))
}

fn show(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply).into_owned()
}

#[tokio::test]
async fn flushdb_empties_the_selected_database_and_flushall_every_one() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    raw.call(&[b"SET", b"a", b"1"]).await;
    raw.call(&[b"SET", b"b", b"2"]).await;
    raw.call(&[b"SELECT", b"1"]).await;
    raw.call(&[b"SET", b"c", b"3"]).await;
    assert_eq!(raw.call(&[b"DBSIZE"]).await, b":1\r\n");
    assert_eq!(raw.call(&[b"FLUSHDB"]).await, b"+OK\r\n");
    assert_eq!(raw.call(&[b"DBSIZE"]).await, b":0\r\n");
    raw.call(&[b"SELECT", b"0"]).await;
    assert_eq!(raw.call(&[b"DBSIZE"]).await, b":2\r\n", "FLUSHDB only touches the selected database");
    raw.call(&[b"SELECT", b"1"]).await;
    raw.call(&[b"SET", b"c", b"3"]).await;
    assert_eq!(raw.call(&[b"FLUSHALL", b"ASYNC"]).await, b"+OK\r\n");
    assert_eq!(raw.call(&[b"DBSIZE"]).await, b":0\r\n");
    raw.call(&[b"SELECT", b"0"]).await;
    assert_eq!(raw.call(&[b"DBSIZE"]).await, b":0\r\n");
    assert_eq!(raw.call(&[b"FLUSHALL", b"LATER"]).await, b"-ERR syntax error\r\n");
}

#[tokio::test]
async fn flushdb_makes_exec_fail_for_a_watched_key() {
    let server = common::start().await;
    let mut watcher = server.raw().await;
    let mut flusher = server.raw().await;
    watcher.call(&[b"SET", b"w", b"1"]).await;
    watcher.call(&[b"WATCH", b"w"]).await;
    flusher.call(&[b"FLUSHDB"]).await;
    watcher.call(&[b"MULTI"]).await;
    watcher.call(&[b"SET", b"w", b"2"]).await;
    assert_eq!(watcher.call(&[b"EXEC"]).await, b"*-1\r\n");
}

#[tokio::test]
async fn time_replies_seconds_and_microseconds_of_the_wall_clock() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let reply = raw.call(&[b"TIME"]).await;
    let after = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let text = show(&reply);
    let parts: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(parts[0], "*2");
    let seconds: u64 = parts[2].parse().unwrap();
    let micros: u64 = parts[4].parse().unwrap();
    assert!((before..=after).contains(&seconds), "{seconds} not in {before}..={after}");
    assert!(micros < 1_000_000);
}

#[tokio::test]
async fn shutdown_closes_the_connection_without_a_reply_and_stops_the_server() {
    let server = common::start().await;
    let mut other = server.raw().await;
    other.call(&[b"PING"]).await;
    let mut raw = server.raw().await;
    raw.send_command(&[b"SHUTDOWN", b"NOSAVE"]).await;
    let reply = tokio::time::timeout(BOUND, raw.read_reply()).await.expect("the connection closes");
    assert_eq!(reply, None, "SHUTDOWN replies nothing when it succeeds");
    assert!(*server.shared.shutdown_signal().borrow());
    // Every other client is closed too, and the listener is gone.
    assert!(tokio::time::timeout(BOUND, other.is_closed()).await.unwrap());
    let refused = tokio::time::timeout(BOUND, async {
        loop {
            match tokio::net::TcpStream::connect(server.addr).await {
                Err(_) => return true,
                Ok(mut probe) => {
                    // Still queued in the closing listener's backlog: it is dropped unserved.
                    let mut rest = Vec::new();
                    let _ = probe.read_to_end(&mut rest).await;
                    assert!(rest.is_empty(), "a connection was served after SHUTDOWN");
                    tokio::task::yield_now().await;
                }
            }
        }
    })
    .await;
    assert_eq!(refused, Ok(true));
}

#[tokio::test]
async fn shutdown_rejects_bad_options_and_abort_without_a_shutdown() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(raw.call(&[b"SHUTDOWN", b"ABORT"]).await, b"-ERR No shutdown in progress.\r\n");
    assert_eq!(raw.call(&[b"SHUTDOWN", b"SAVE", b"NOSAVE"]).await, b"-ERR syntax error\r\n");
    assert_eq!(raw.call(&[b"SHUTDOWN", b"NOW", b"ABORT"]).await, b"-ERR syntax error\r\n");
    assert_eq!(raw.call(&[b"SHUTDOWN", b"SOON"]).await, b"-ERR syntax error\r\n");
    assert!(!*server.shared.shutdown_signal().borrow());
    assert_eq!(raw.call(&[b"PING"]).await, b"+PONG\r\n");
}

#[tokio::test]
async fn config_set_round_trips_through_config_get() {
    let server = common::start().await;
    let mut client = server.client().await;
    let () = redis::cmd("CONFIG").arg("SET").arg("timeout").arg("300").arg("hz").arg("20").query_async(&mut client).await.unwrap();
    let values: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("timeout").query_async(&mut client).await.unwrap();
    assert_eq!(values, ["timeout", "300"]);
    let values: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("h?").query_async(&mut client).await.unwrap();
    assert_eq!(values, ["hz", "20"]);
    assert_eq!(server.shared.config.read().timeout, 300);
    // Values are clamped as Redis clamps them.
    let () = redis::cmd("CONFIG").arg("SET").arg("hz").arg("100000").query_async(&mut client).await.unwrap();
    let values: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("hz").query_async(&mut client).await.unwrap();
    assert_eq!(values, ["hz", "500"]);
}

#[tokio::test]
async fn config_get_answers_a_map_in_resp3_and_matches_globs() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    raw.call(&[b"HELLO", b"3"]).await;
    assert_eq!(raw.call(&[b"CONFIG", b"GET", b"TIMEOUT"]).await, b"%1\r\n$7\r\nTIMEOUT\r\n$1\r\n0\r\n");
    assert_eq!(raw.call(&[b"CONFIG", b"GET", b"nothing*"]).await, b"%0\r\n");
    let all = show(&raw.call(&[b"CONFIG", b"GET", b"*"]).await);
    for name in ["bind", "port", "databases", "loglevel", "maxclients", "timeout", "hz"] {
        assert!(all.contains(&format!("\r\n{name}\r\n")), "{name} missing from {all}");
    }
}

#[tokio::test]
async fn config_set_changes_all_parameters_or_none() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(
        show(&raw.call(&[b"CONFIG", b"SET", b"timeout", b"55", b"maxclients", b"0"]).await),
        "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive\r\n"
    );
    assert_eq!(raw.call(&[b"CONFIG", b"GET", b"timeout"]).await, b"*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n");
    assert_eq!(
        show(&raw.call(&[b"CONFIG", b"SET", b"timeout", b"55", b"port", b"1"]).await),
        "-ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config\r\n"
    );
    assert_eq!(
        show(&raw.call(&[b"CONFIG", b"SET", b"timeout", b"55", b"foo", b"1"]).await),
        "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n"
    );
    assert_eq!(
        show(&raw.call(&[b"CONFIG", b"SET", b"timeout", b"55", b"TIMEOUT", b"56"]).await),
        "-ERR CONFIG SET failed (possibly related to argument 'TIMEOUT') - duplicate parameter\r\n"
    );
    assert_eq!(server.shared.config.read().timeout, 0);
    assert_eq!(raw.call(&[b"CONFIG", b"SET", b"timeout", b"55", b"maxclients", b"77"]).await, b"+OK\r\n");
    let config = server.shared.config.read();
    assert_eq!((config.timeout, config.maxclients), (55, 77));
}

#[tokio::test]
async fn maxclients_rejects_connections_beyond_the_limit() {
    let server = common::start_with(|config| config.maxclients = 1).await;
    let mut first = server.raw().await;
    assert_eq!(first.call(&[b"PING"]).await, b"+PONG\r\n");
    let mut second = server.raw().await;
    assert_eq!(second.read_reply().await.unwrap(), b"-ERR max number of clients reached\r\n");
    assert!(second.is_closed().await);
    assert_eq!(info_field(&info(&mut first, "stats").await, "rejected_connections").as_deref(), Some("1"));
}

#[tokio::test]
async fn config_set_maxclients_applies_to_the_next_connection() {
    let server = common::start().await;
    let mut first = server.raw().await;
    assert_eq!(first.call(&[b"CONFIG", b"SET", b"maxclients", b"1"]).await, b"+OK\r\n");
    let mut second = server.raw().await;
    assert_eq!(second.read_reply().await.unwrap(), b"-ERR max number of clients reached\r\n");
}

#[tokio::test]
async fn timeout_closes_idle_clients() {
    let server = common::start_with(|config| config.timeout = 1).await;
    let mut idle = server.raw().await;
    assert_eq!(idle.call(&[b"PING"]).await, b"+PONG\r\n");
    let closed = tokio::time::timeout(BOUND, idle.is_closed()).await;
    assert_eq!(closed, Ok(true));
}

#[tokio::test]
async fn timeout_spares_subscribers() {
    let server = common::start_with(|config| config.timeout = 1).await;
    let mut subscriber = server.raw().await;
    subscriber.call(&[b"SUBSCRIBE", b"news"]).await;
    // A client that went idle after the subscriber did is closed first...
    let mut idle = server.raw().await;
    assert_eq!(idle.call(&[b"PING"]).await, b"+PONG\r\n");
    assert_eq!(tokio::time::timeout(BOUND, idle.is_closed()).await, Ok(true));
    // ...while the subscriber still gets its messages.
    let mut publisher = server.raw().await;
    assert_eq!(publisher.call(&[b"PUBLISH", b"news", b"still here"]).await, b":1\r\n");
    let message = subscriber.read_reply().await.unwrap();
    assert!(message.ends_with(b"$10\r\nstill here\r\n"), "{}", show(&message));
}

#[tokio::test]
async fn config_rewrite_needs_a_config_file() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(raw.call(&[b"CONFIG", b"REWRITE"]).await, b"-ERR The server is running without a config file\r\n");
}

#[tokio::test]
async fn config_rewrite_writes_the_running_values_back_keeping_comments() {
    let dir = std::env::temp_dir().join(format!("herald-config-rewrite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("herald.conf");
    std::fs::write(&path, "# my settings\ntimeout 3\nhz 10\n").unwrap();
    let path_text = path.display().to_string();
    let server = common::start_with(|config| {
        config.config_file = Some(path_text.clone());
        config.timeout = 3;
    })
    .await;
    let mut raw = server.raw().await;
    raw.call(&[b"CONFIG", b"SET", b"timeout", b"9", b"maxclients", b"123"]).await;
    assert_eq!(raw.call(&[b"CONFIG", b"REWRITE"]).await, b"+OK\r\n");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(text.starts_with("# my settings\ntimeout 9\nhz 10\n"), "{text}");
    assert!(text.contains("\nmaxclients 123\n"), "{text}");
    // The rewritten file reads back as the running configuration.
    let mut reread = herald::Config::default();
    reread.apply_file_text(&text).unwrap();
    assert_eq!((reread.timeout, reread.maxclients), (9, 123));
}

#[tokio::test]
async fn config_resetstat_zeroes_the_counters() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    raw.call(&[b"GET", b"k"]).await;
    assert!(info(&mut raw, "commandstats").await.contains("cmdstat_get:calls=1,"));
    assert_eq!(raw.call(&[b"CONFIG", b"RESETSTAT"]).await, b"+OK\r\n");
    let stats = info(&mut raw, "everything").await;
    assert!(!stats.contains("cmdstat_get"), "{stats}");
    // RESETSTAT itself is counted once it finishes, as in Redis; INFO not until it has run.
    assert_eq!(info_field(&stats, "total_commands_processed").as_deref(), Some("1"));
    assert_eq!(server.shared.stats.total_commands_processed.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn info_reports_redis_sections_with_redis_field_names() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    raw.call(&[b"SET", b"k", b"v"]).await;
    raw.call(&[b"SET", b"t", b"v", b"EX", b"100"]).await;
    raw.call(&[b"GET", b"k"]).await;
    let text = info(&mut raw, "default").await;
    for section in ["# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Replication", "# CPU", "# Keyspace"] {
        assert!(text.contains(section), "{section} missing");
    }
    assert!(!text.contains("# Commandstats"), "commandstats is not a default section");
    assert_eq!(info_field(&text, "redis_version").as_deref(), Some("7.4.0"));
    assert_eq!(info_field(&text, "redis_mode").as_deref(), Some("standalone"));
    assert_eq!(info_field(&text, "tcp_port"), Some(server.addr.port().to_string()));
    assert_eq!(info_field(&text, "process_id"), Some(std::process::id().to_string()));
    assert_eq!(info_field(&text, "connected_clients").as_deref(), Some("1"));
    assert_eq!(info_field(&text, "role").as_deref(), Some("master"));
    assert_eq!(info_field(&text, "loading").as_deref(), Some("0"));
    assert!(info_field(&text, "used_memory").unwrap().parse::<u64>().unwrap() > 0);
    let ttl_line = info_field(&text, "db0").unwrap();
    assert!(ttl_line.starts_with("keys=2,expires=1,avg_ttl="), "{ttl_line}");
    assert!(ttl_line.ends_with(",subexpiry=0"), "{ttl_line}");
    assert!(text.ends_with("\r\n") && !text.ends_with("\r\n\r\n"));
    let commands = info(&mut raw, "commandstats").await;
    assert!(commands.starts_with("# Commandstats\r\n"));
    assert!(commands.contains("cmdstat_set:calls=2,"), "{commands}");
    assert!(commands.contains("cmdstat_get:calls=1,"), "{commands}");
    assert_eq!(info(&mut raw, "nonsense").await, "");
}

#[tokio::test]
async fn info_is_verbatim_text_in_resp3() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    raw.call(&[b"HELLO", b"3"]).await;
    assert_eq!(raw.call(&[b"INFO", b"keyspace"]).await, b"=16\r\ntxt:# Keyspace\r\n\r\n");
}

#[tokio::test]
async fn command_describes_every_command_in_redis_7_shapes() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let count = show(&raw.call(&[b"COMMAND", b"COUNT"]).await);
    let all = raw.call(&[b"COMMAND"]).await;
    assert_eq!(show(&all).split("\r\n").next().unwrap(), count.trim_end().replacen(':', "*", 1));
    let get = show(&raw.call(&[b"COMMAND", b"INFO", b"get", b"nope"]).await);
    assert!(
        get.starts_with("*2\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n"),
        "{get}"
    );
    assert!(get.ends_with("$-1\r\n"), "unknown commands are null: {get}");
    let sub = show(&raw.call(&[b"COMMAND", b"INFO", b"config|get"]).await);
    assert!(sub.starts_with("*1\r\n*10\r\n$10\r\nconfig|get\r\n:-3\r\n"), "{sub}");
    raw.call(&[b"HELLO", b"3"]).await;
    let docs = show(&raw.call(&[b"COMMAND", b"DOCS", b"get", b"nope"]).await);
    assert!(docs.starts_with("%1\r\n$3\r\nget\r\n%3\r\n$7\r\nsummary\r\n"), "{docs}");
}

#[tokio::test]
async fn command_list_filters_and_getkeys_extracts_keys() {
    let server = common::start().await;
    let mut client = server.client().await;
    let names: Vec<String> = redis::cmd("COMMAND").arg("LIST").query_async(&mut client).await.unwrap();
    for name in ["get", "config", "config|get", "client|kill", "hello"] {
        assert!(names.iter().any(|n| n == name), "{name} missing");
    }
    let filtered: Vec<String> =
        redis::cmd("COMMAND").arg("LIST").arg("FILTERBY").arg("PATTERN").arg("config|*").query_async(&mut client).await.unwrap();
    assert!(!filtered.is_empty() && filtered.iter().all(|n| n.starts_with("config|")), "{filtered:?}");
    let connection: Vec<String> =
        redis::cmd("COMMAND").arg("LIST").arg("FILTERBY").arg("ACLCAT").arg("connection").query_async(&mut client).await.unwrap();
    assert!(connection.iter().any(|n| n == "ping") && !connection.iter().any(|n| n == "get"));
    let keys: Vec<String> =
        redis::cmd("COMMAND").arg("GETKEYS").arg("MSET").arg("a").arg("1").arg("b").arg("2").query_async(&mut client).await.unwrap();
    assert_eq!(keys, ["a", "b"]);
    let error = redis::cmd("COMMAND").arg("GETKEYS").arg("PING").arg("x").query_async::<Vec<String>>(&mut client).await.unwrap_err();
    assert!(error.to_string().contains("The command has no key arguments"), "{error}");
}
