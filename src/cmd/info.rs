//! INFO: the server's state in Redis's `# Section` / `field:value` text, with Redis's field
//! names so monitoring tools and client libraries read it unchanged.
//!
//! Herald has no persistence snapshot, replication or modules; those sections report the
//! idle values Redis reports when they are not in use (`loading:0`, `role:master`, ...).
//! Memory figures come from the kernel (`/proc/self/statm`): Rust's allocator keeps no count,
//! so `used_memory` is the resident set size.
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::connection::REDIS_VERSION;
use super::{CommandSpec, Ctx};
use crate::resp::Reply;
use bytes::Bytes;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Every section, in the order INFO prints them, and whether plain `INFO` includes it.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// The highest resident set size INFO has seen (`used_memory_peak`).
static PEAK_MEMORY: AtomicU64 = AtomicU64::new(0);

/// Which sections a request asks for: `INFO [section [section ...]]`, where `default`,
/// `all` and `everything` stand for groups and unknown names select nothing.
fn wanted_sections(args: &[Bytes]) -> Vec<&'static str> {
    let mut wanted = Vec::new();
    let mut add = |name: &'static str| {
        if !wanted.contains(&name) {
            wanted.push(name);
        }
    };
    if args.len() <= 1 {
        SECTIONS.iter().filter(|(_, default)| *default).for_each(|(name, _)| add(name));
    }
    for arg in args.iter().skip(1) {
        let arg = String::from_utf8_lossy(arg).to_ascii_lowercase();
        match arg.as_str() {
            "default" => SECTIONS.iter().filter(|(_, default)| *default).for_each(|(name, _)| add(name)),
            "all" => SECTIONS.iter().filter(|(name, _)| *name != "modules").for_each(|(name, _)| add(name)),
            "everything" => SECTIONS.iter().for_each(|(name, _)| add(name)),
            other => {
                if let Some((name, _)) = SECTIONS.iter().find(|(name, _)| *name == other) {
                    add(name);
                }
            }
        }
    }
    // Print in Redis's fixed order whatever order they were asked in.
    SECTIONS.iter().map(|(name, _)| *name).filter(|name| wanted.contains(name)).collect()
}

/// `INFO [section [section ...]]`: the requested sections (default: the default set), as a
/// bulk string in RESP2 and verbatim text in RESP3.
fn info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut text = String::with_capacity(4096);
    for (index, section) in wanted_sections(args).into_iter().enumerate() {
        if index > 0 {
            text.push_str("\r\n");
        }
        let title = match section {
            "cpu" => "CPU".to_string(),
            "commandstats" => "Commandstats".to_string(),
            other => {
                let mut chars = other.chars();
                chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
            }
        };
        let _ = write!(text, "# {title}\r\n");
        for (field, value) in section_fields(ctx, section) {
            let _ = write!(text, "{field}:{value}\r\n");
        }
    }
    Reply::Verbatim("txt", Bytes::from(text))
}

type Fields = Vec<(String, String)>;

fn push(fields: &mut Fields, name: &str, value: impl ToString) {
    fields.push((name.to_string(), value.to_string()));
}

fn section_fields(ctx: &Ctx<'_>, section: &str) -> Fields {
    let mut fields = Fields::new();
    match section {
        "server" => server(ctx, &mut fields),
        "clients" => clients(ctx, &mut fields),
        "memory" => memory(ctx, &mut fields),
        "persistence" => persistence(ctx, &mut fields),
        "stats" => stats(ctx, &mut fields),
        "replication" => replication(ctx, &mut fields),
        "cpu" => cpu(&mut fields),
        "commandstats" => commandstats(ctx, &mut fields),
        "cluster" => push(&mut fields, "cluster_enabled", 0),
        "keyspace" => keyspace(ctx, &mut fields),
        _ => {}
    }
    fields
}

fn unix_now() -> std::time::Duration {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default()
}

fn server(ctx: &Ctx<'_>, fields: &mut Fields) {
    let config = ctx.shared.config.read();
    let uptime = ctx.shared.started.elapsed().as_secs();
    let port = ctx.shared.tcp_port.load(Ordering::Relaxed);
    let read = |path: &str| std::fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_default();
    let os = format!("{} {} {}", read("/proc/sys/kernel/ostype"), read("/proc/sys/kernel/osrelease"), std::env::consts::ARCH);
    push(fields, "redis_version", REDIS_VERSION);
    push(fields, "redis_git_sha1", "00000000");
    push(fields, "redis_git_dirty", 0);
    push(fields, "redis_build_id", "0");
    push(fields, "redis_mode", "standalone");
    push(fields, "os", os.trim());
    push(fields, "arch_bits", usize::BITS);
    push(fields, "monotonic_clock", "POSIX clock_gettime");
    push(fields, "multiplexing_api", "epoll");
    push(fields, "atomicvar_api", "c11-builtin");
    push(fields, "gcc_version", "0.0.0");
    push(fields, "process_id", std::process::id());
    push(fields, "process_supervised", "no");
    push(fields, "run_id", &ctx.shared.run_id);
    push(fields, "tcp_port", port);
    push(fields, "server_time_usec", unix_now().as_micros());
    push(fields, "uptime_in_seconds", uptime);
    push(fields, "uptime_in_days", uptime / 86_400);
    push(fields, "hz", config.hz);
    push(fields, "configured_hz", config.hz);
    push(fields, "executable", std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default());
    let config_file = config.config_file.as_deref().map(|path| {
        std::fs::canonicalize(path).map(|p| p.display().to_string()).unwrap_or_else(|_| path.to_string())
    });
    push(fields, "config_file", config_file.unwrap_or_default());
    push(fields, "io_threads_active", 0);
    let binds: Vec<String> = config.bind.iter().map(|b| format!("bind={b}")).collect();
    push(fields, "listener0", format!("name=tcp,{},port={port}", binds.join(",")));
    push(fields, "herald_version", env!("CARGO_PKG_VERSION"));
}

/// Counts over every connection, the caller's own live state included.
#[derive(Default)]
struct ClientCounts {
    pubsub: usize,
    watching: usize,
    watched_keys: usize,
}

fn client_counts(ctx: &Ctx<'_>) -> ClientCounts {
    let mut counts = ClientCounts::default();
    for handle in ctx.shared.clients.all() {
        let (subscriptions, watched) = if handle.id == ctx.client.id {
            (usize::from(ctx.client.subscriptions.is_active()), ctx.client.watch.keys.len())
        } else {
            let info = handle.info.lock();
            (usize::from(info.sub + info.psub + info.ssub > 0), info.watch)
        };
        counts.pubsub += subscriptions;
        counts.watching += usize::from(watched > 0);
        counts.watched_keys += watched;
    }
    counts
}

fn clients(ctx: &Ctx<'_>, fields: &mut Fields) {
    let counts = client_counts(ctx);
    push(fields, "connected_clients", ctx.shared.clients.len());
    push(fields, "cluster_connections", 0);
    push(fields, "maxclients", ctx.shared.config.read().maxclients);
    push(fields, "client_recent_max_input_buffer", 0);
    push(fields, "client_recent_max_output_buffer", 0);
    push(fields, "blocked_clients", ctx.keyspace.blocking.blocked_clients());
    push(fields, "tracking_clients", 0);
    push(fields, "pubsub_clients", counts.pubsub);
    push(fields, "watching_clients", counts.watching);
    push(fields, "clients_in_timeout_table", 0);
    push(fields, "total_watched_keys", counts.watched_keys);
    push(fields, "total_blocking_keys", 0);
    push(fields, "total_blocking_keys_on_nokey", 0);
}

/// Bytes as Redis's `bytesToHuman` writes them: `512B`, `1.50K`, `2.00M`, ...
pub fn bytes_to_human(bytes: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (1 << 50, "P"),
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    for (size, unit) in UNITS {
        if bytes >= size {
            return format!("{:.2}{unit}", bytes as f64 / size as f64);
        }
    }
    format!("{bytes}B")
}

/// The process's resident set size in bytes, from `/proc/self/statm` (0 where there is none).
fn resident_bytes() -> u64 {
    const PAGE_SIZE: u64 = 4096;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|text| text.split_whitespace().nth(1).and_then(|pages| pages.parse::<u64>().ok()))
        .map_or(0, |pages| pages * PAGE_SIZE)
}

fn memory(ctx: &Ctx<'_>, fields: &mut Fields) {
    let used = resident_bytes();
    let peak = PEAK_MEMORY.fetch_max(used, Ordering::Relaxed).max(used);
    let total_system = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024);
    push(fields, "used_memory", used);
    push(fields, "used_memory_human", bytes_to_human(used));
    push(fields, "used_memory_rss", used);
    push(fields, "used_memory_rss_human", bytes_to_human(used));
    push(fields, "used_memory_peak", peak);
    push(fields, "used_memory_peak_human", bytes_to_human(peak));
    let percent = if peak == 0 { 100.0 } else { used as f64 * 100.0 / peak as f64 };
    push(fields, "used_memory_peak_perc", format!("{percent:.2}%"));
    push(fields, "total_system_memory", total_system);
    push(fields, "total_system_memory_human", bytes_to_human(total_system));
    for (name, value) in crate::scripting::memory_info(ctx.shared) {
        push(fields, name, value);
    }
    push(fields, "maxmemory", 0);
    push(fields, "maxmemory_human", "0B");
    push(fields, "maxmemory_policy", "noeviction");
    push(fields, "mem_fragmentation_ratio", "1.00");
    push(fields, "mem_allocator", "libc");
    push(fields, "lazyfree_pending_objects", 0);
}

fn persistence(ctx: &Ctx<'_>, fields: &mut Fields) {
    let started = unix_now().as_secs().saturating_sub(ctx.shared.started.elapsed().as_secs());
    push(fields, "loading", if ctx.shared.is_loading() { "1" } else { "0" });
    for (name, value) in [
        ("async_loading", "0"),
        ("current_cow_peak", "0"),
        ("current_cow_size", "0"),
        ("current_cow_size_age", "0"),
        ("current_fork_perc", "0.00"),
        ("current_save_keys_processed", "0"),
        ("current_save_keys_total", "0"),
        ("rdb_changes_since_last_save", "0"),
        ("rdb_bgsave_in_progress", "0"),
    ] {
        push(fields, name, value);
    }
    push(fields, "rdb_last_save_time", started);
    for (name, value) in [
        ("rdb_last_bgsave_status", "ok"),
        ("rdb_last_bgsave_time_sec", "-1"),
        ("rdb_current_bgsave_time_sec", "-1"),
        ("rdb_saves", "0"),
        ("rdb_last_cow_size", "0"),
        ("aof_enabled", "0"),
        ("aof_rewrite_in_progress", "0"),
        ("aof_rewrite_scheduled", "0"),
        ("aof_last_rewrite_time_sec", "-1"),
        ("aof_current_rewrite_time_sec", "-1"),
        ("aof_last_bgrewrite_status", "ok"),
        ("aof_rewrites", "0"),
        ("aof_last_write_status", "ok"),
        ("module_fork_in_progress", "0"),
    ] {
        push(fields, name, value);
    }
    // Durable streams (issue 7): enabled, counts, bytes, fsync latency, last recovery.
    for (name, value) in crate::persist::info_fields(&*ctx.keyspace) {
        push(fields, name, value);
    }
}

fn stats(ctx: &Ctx<'_>, fields: &mut Fields) {
    let stats = &ctx.shared.stats;
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    push(fields, "total_connections_received", load(&stats.total_connections_received));
    push(fields, "total_commands_processed", load(&stats.total_commands_processed));
    push(fields, "total_net_input_bytes", load(&stats.total_net_input_bytes));
    push(fields, "total_net_output_bytes", load(&stats.total_net_output_bytes));
    push(fields, "rejected_connections", load(&stats.rejected_connections));
    push(fields, "expired_keys", load(&stats.expired_keys));
    push(fields, "evicted_keys", 0);
    push(fields, "evicted_clients", 0);
    push(fields, "evicted_scripts", ctx.shared.scripting.engine.lock().evicted());
    push(fields, "keyspace_hits", load(&stats.keyspace_hits));
    push(fields, "keyspace_misses", load(&stats.keyspace_misses));
    push(fields, "pubsub_channels", ctx.shared.pubsub.channel_count());
    push(fields, "pubsub_patterns", ctx.shared.pubsub.pattern_count());
    push(fields, "pubsubshard_channels", ctx.shared.pubsub.shard_channel_count());
    push(fields, "latest_fork_usec", 0);
    push(fields, "total_forks", 0);
    push(fields, "total_error_replies", load(&stats.total_error_replies));
    push(fields, "client_output_buffer_limit_disconnections", load(&stats.client_output_buffer_limit_disconnections));
}

fn replication(ctx: &Ctx<'_>, fields: &mut Fields) {
    push(fields, "role", "master");
    push(fields, "connected_slaves", 0);
    push(fields, "master_failover_state", "no-failover");
    push(fields, "master_replid", &ctx.shared.run_id);
    push(fields, "master_replid2", "0".repeat(40));
    push(fields, "master_repl_offset", 0);
    push(fields, "second_repl_offset", -1);
    push(fields, "repl_backlog_active", 0);
    push(fields, "repl_backlog_size", 1_048_576);
    push(fields, "repl_backlog_first_byte_offset", 0);
    push(fields, "repl_backlog_histlen", 0);
}

/// User and system CPU seconds of this process, from `/proc/self/stat`.
fn cpu_seconds() -> (f64, f64) {
    // Linux reports these in clock ticks, USER_HZ, which is 100 on every mainstream build.
    const TICKS_PER_SECOND: f64 = 100.0;
    let Ok(text) = std::fs::read_to_string("/proc/self/stat") else { return (0.0, 0.0) };
    // Fields after the command name (which may contain spaces) start at the state, field 3;
    // utime and stime are fields 14 and 15.
    let rest = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let numbers: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| numbers.get(n - 3).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / TICKS_PER_SECOND;
    (field(14), field(15))
}

fn cpu(fields: &mut Fields) {
    let (user, system) = cpu_seconds();
    push(fields, "used_cpu_sys", format!("{system:.6}"));
    push(fields, "used_cpu_user", format!("{user:.6}"));
    push(fields, "used_cpu_sys_children", "0.000000");
    push(fields, "used_cpu_user_children", "0.000000");
}

fn commandstats(ctx: &Ctx<'_>, fields: &mut Fields) {
    let mut commands: Vec<_> = ctx.shared.stats.commands.lock().iter().map(|(name, stats)| (*name, *stats)).collect();
    commands.sort_by_key(|(name, _)| *name);
    for (name, stats) in commands {
        if stats.calls == 0 && stats.failed_calls == 0 && stats.rejected_calls == 0 {
            continue;
        }
        let per_call = if stats.calls == 0 { 0.0 } else { stats.usec as f64 / stats.calls as f64 };
        push(
            fields,
            &format!("cmdstat_{name}"),
            format!(
                "calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}",
                stats.calls, stats.usec, stats.rejected_calls, stats.failed_calls
            ),
        );
    }
}

fn keyspace(ctx: &Ctx<'_>, fields: &mut Fields) {
    let now = ctx.keyspace.now_ms();
    for (index, db) in ctx.keyspace.dbs() {
        if db.is_empty() {
            continue;
        }
        push(
            fields,
            &format!("db{index}"),
            format!("keys={},expires={},avg_ttl={},subexpiry=0", db.len(), db.expires_count(), db.avg_ttl_ms(now)),
        );
    }
}

/// The INFO command.
pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new(
    "info",
    -1,
    &["loading", "stale", "sentinel"],
    (0, 0, 0),
    "server",
    "Returns information and statistics about the server.",
    info,
)];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_humanised_like_redis() {
        assert_eq!(bytes_to_human(512), "512B");
        assert_eq!(bytes_to_human(1536), "1.50K");
        assert_eq!(bytes_to_human(3 * 1024 * 1024), "3.00M");
    }

    #[test]
    fn section_groups_expand_in_redis_order() {
        let args = |words: &[&'static str]| -> Vec<Bytes> { words.iter().map(|w| Bytes::from_static(w.as_bytes())).collect() };
        assert_eq!(wanted_sections(&args(&["info", "keyspace", "SERVER"])), vec!["server", "keyspace"]);
        assert!(!wanted_sections(&args(&["info"])).contains(&"commandstats"));
        assert!(wanted_sections(&args(&["info", "all"])).contains(&"commandstats"));
        assert!(!wanted_sections(&args(&["info", "all"])).contains(&"modules"));
        assert!(wanted_sections(&args(&["info", "everything"])).contains(&"modules"));
        assert!(wanted_sections(&args(&["info", "nope"])).is_empty());
    }
}
