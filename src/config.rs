//! Typed configuration with Redis's names and defaults.
//!
//! Sources, later ones winning: defaults, a config file in redis.conf syntax (the first
//! command-line argument when it does not start with `--`), then `--name value` flags. At run
//! time CONFIG GET and CONFIG SET read and change the same parameters through [`PARAMS`].

use crate::resp::split_inline_args;
use std::fmt;

/// Log verbosity, with Redis's level names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Everything.
    Debug,
    /// Much, mostly useful.
    Verbose,
    /// Moderately verbose (the default).
    Notice,
    /// Only important messages.
    Warning,
    /// Nothing.
    Nothing,
}

impl LogLevel {
    fn parse(text: &str) -> Option<LogLevel> {
        Some(match text.to_ascii_lowercase().as_str() {
            "debug" => LogLevel::Debug,
            "verbose" => LogLevel::Verbose,
            "notice" => LogLevel::Notice,
            "warning" => LogLevel::Warning,
            "nothing" => LogLevel::Nothing,
            _ => return None,
        })
    }

    /// The `tracing` filter directive for this level.
    pub fn filter(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Verbose => "debug",
            LogLevel::Notice => "info",
            LogLevel::Warning => "warn",
            LogLevel::Nothing => "off",
        }
    }
}

/// Applies a new log level to the running logger. The binary installs it once it has set up
/// logging; CONFIG SET calls it when `loglevel` changes. Unset (tests, embedding), a level
/// change is only recorded.
pub static LOG_LEVEL_HOOK: std::sync::OnceLock<Box<dyn Fn(LogLevel) + Send + Sync>> = std::sync::OnceLock::new();

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogLevel::Debug => "debug",
            LogLevel::Verbose => "verbose",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
            LogLevel::Nothing => "nothing",
        })
    }
}

/// Every setting Herald has.
#[derive(Debug, Clone)]
pub struct Config {
    /// Addresses to listen on (`bind`); loopback by default.
    pub bind: Vec<String>,
    /// TCP port (`port`); 0 picks a free one.
    pub port: u16,
    /// Number of databases (`databases`).
    pub databases: usize,
    /// Log verbosity (`loglevel`).
    pub loglevel: LogLevel,
    /// Most simultaneous clients (`maxclients`).
    pub maxclients: usize,
    /// Close clients idle this many seconds; 0 never (`timeout`).
    pub timeout: u64,
    /// Longest single argument in bytes (`proto-max-bulk-len`).
    pub proto_max_bulk_len: u64,
    /// Largest query buffer per client in bytes (`client-query-buffer-limit`).
    pub client_query_buffer_limit: u64,
    /// Background task frequency, per second (`hz`), used by the expiry cycle.
    pub hz: u32,
    /// Milliseconds a script may run before other clients get `-BUSY`
    /// (`busy-reply-threshold`, alias `lua-time-limit`).
    pub busy_reply_threshold: u64,
    /// Path of the file this configuration was read from, if any.
    pub config_file: Option<String>,
    /// Which keyspace events are published (`notify-keyspace-events`).
    pub notify_keyspace_events: crate::pubsub::NotifyFlags,
    /// Output buffer limits per client class (`client-output-buffer-limit`).
    pub client_output_buffer_limit: OutputBufferLimits,
    /// Most fields a hash keeps in its compact form (`hash-max-listpack-entries`).
    pub hash_max_listpack_entries: usize,
    /// Longest field or value, in bytes, a compact hash holds (`hash-max-listpack-value`).
    pub hash_max_listpack_value: usize,
    /// Most members a set of integers keeps as an intset (`set-max-intset-entries`).
    pub set_max_intset_entries: usize,
    /// Most members a set keeps in its compact form (`set-max-listpack-entries`).
    pub set_max_listpack_entries: usize,
    /// Longest member, in bytes, a compact set holds (`set-max-listpack-value`).
    pub set_max_listpack_value: usize,
    /// Most members a sorted set keeps in its compact form (`zset-max-listpack-entries`).
    pub zset_max_listpack_entries: usize,
    /// Longest member, in bytes, a compact sorted set holds (`zset-max-listpack-value`).
    pub zset_max_listpack_value: usize,
    /// The WebSocket gateway's settings (`ws-*`).
    pub ws: WsConfig,
    /// Durable streams' tiering and retention (`stream-memory-budget`, `stream-retention-ms`,
    /// `stream-retention-bytes`); shared by `Arc` with every durable stream's cold store, so a
    /// CONFIG SET applies at once.
    pub tiering: std::sync::Arc<crate::persist::tier::TierSettings>,
    /// Data directory of durable streams (`dir`; `./data` by default).
    pub dir: String,
    /// Which streams are durable (`durable-streams`: `no`, `yes`/`all`, or key patterns).
    pub durable_streams: crate::persist::DurablePolicy,
    /// When durable streams' records reach the disk (`stream-fsync`, alias `appendfsync`).
    pub stream_fsync: crate::persist::FsyncPolicy,
    /// Durable streams roll to a new segment file at this size (`stream-segment-size`).
    pub stream_segment_size: u64,
}

/// The WebSocket gateway's settings (see [`crate::gateway`] and `protocol/websocket.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsConfig {
    /// TCP port of the gateway (`ws-port`); 0, the default, turns it off.
    pub port: u16,
    /// Addresses the gateway listens on (`ws-bind`); empty means the same as `bind`.
    pub bind: Vec<String>,
    /// `Origin` values allowed at the handshake (`ws-allowed-origins`); empty allows any, `*`
    /// too. A request without an `Origin` header (not a browser) is always allowed.
    pub allowed_origins: Vec<String>,
    /// Largest message (and frame) a client may send, in bytes (`ws-max-message-size`).
    pub max_message_size: usize,
    /// Most simultaneous gateway connections (`ws-max-connections`).
    pub max_connections: usize,
    /// Messages queued for one client before it counts as too slow and is closed
    /// (`ws-send-queue`).
    pub send_queue: usize,
    /// Seconds without any frame from a client before it is closed; 0 never (`ws-idle-timeout`).
    /// The server pings at a third of it.
    pub idle_timeout: u64,
    /// Secret for HMAC-SHA256 bearer tokens (`ws-token-secret`); empty: no token needed.
    pub token_secret: String,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            port: 0,
            bind: Vec::new(),
            allowed_origins: Vec::new(),
            max_message_size: 1024 * 1024,
            max_connections: 10_000,
            send_queue: 1024,
            idle_timeout: 60,
            token_secret: String::new(),
        }
    }
}

/// One class's `client-output-buffer-limit`: a client whose pending output exceeds `hard`
/// bytes, or stays above `soft` bytes for more than `soft_seconds`, is disconnected. 0 disables
/// a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferLimit {
    /// Bytes that disconnect at once.
    pub hard: u64,
    /// Bytes that disconnect when exceeded for longer than `soft_seconds`.
    pub soft: u64,
    /// How long the soft limit may be exceeded.
    pub soft_seconds: u64,
}

/// `client-output-buffer-limit` for Redis's three client classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBufferLimits {
    /// Ordinary clients (`normal`); Redis's default is no limit.
    pub normal: BufferLimit,
    /// Replicas (`slave` / `replica`); kept for CONFIG compatibility.
    pub replica: BufferLimit,
    /// Clients subscribed to anything (`pubsub`); enforced on their outbox.
    pub pubsub: BufferLimit,
}

impl Default for OutputBufferLimits {
    fn default() -> Self {
        OutputBufferLimits {
            normal: BufferLimit { hard: 0, soft: 0, soft_seconds: 0 },
            replica: BufferLimit { hard: 256 * 1024 * 1024, soft: 64 * 1024 * 1024, soft_seconds: 60 },
            pubsub: BufferLimit { hard: 32 * 1024 * 1024, soft: 8 * 1024 * 1024, soft_seconds: 60 },
        }
    }
}

impl fmt::Display for OutputBufferLimits {
    /// CONFIG GET's form: `normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let classes = [("normal", self.normal), ("slave", self.replica), ("pubsub", self.pubsub)];
        for (index, (name, limit)) in classes.iter().enumerate() {
            if index > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{name} {} {} {}", limit.hard, limit.soft, limit.soft_seconds)?;
        }
        Ok(())
    }
}

impl OutputBufferLimits {
    /// Applies `<class> <hard> <soft> <soft seconds>` groups (any number, any order), all or
    /// nothing, with Redis's error texts.
    pub fn apply(&mut self, value: &str) -> Result<(), String> {
        let words: Vec<&str> = value.split_whitespace().collect();
        if !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut updated = *self;
        for group in words.chunks(4) {
            let [class, hard, soft, seconds] = group else { continue };
            let slot = match class.to_ascii_lowercase().as_str() {
                "normal" => &mut updated.normal,
                "slave" | "replica" => &mut updated.replica,
                "pubsub" => &mut updated.pubsub,
                _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
            };
            let bad = || "Error in hard, soft or soft_seconds setting in buffer limit configuration.".to_string();
            let hard = parse_memory(hard).ok_or_else(bad)?;
            let soft = parse_memory(soft).ok_or_else(bad)?;
            let soft_seconds: u64 = seconds.parse().map_err(|_| bad())?;
            *slot = BufferLimit { hard, soft, soft_seconds };
        }
        *self = updated;
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: vec!["127.0.0.1".into(), "-::1".into()],
            port: 6379,
            databases: 16,
            loglevel: LogLevel::Notice,
            maxclients: 10_000,
            timeout: 0,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            hz: 10,
            busy_reply_threshold: 5000,
            config_file: None,
            notify_keyspace_events: crate::pubsub::NotifyFlags::default(),
            client_output_buffer_limit: OutputBufferLimits::default(),
            hash_max_listpack_entries: 128,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            ws: WsConfig::default(),
            tiering: std::sync::Arc::default(),
            dir: "./data".into(),
            durable_streams: crate::persist::DurablePolicy::No,
            stream_fsync: crate::persist::FsyncPolicy::Everysec,
            stream_segment_size: 64 * 1024 * 1024,
        }
    }
}

/// A configuration error, worded for the log or for CONFIG SET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// One parameter: its names, whether CONFIG SET may change it, and how to read and write it.
pub struct Param {
    /// The canonical name.
    pub name: &'static str,
    /// Other accepted names.
    pub aliases: &'static [&'static str],
    /// Whether CONFIG SET may change it at run time.
    pub mutable: bool,
    /// The value as CONFIG GET shows it.
    pub get: fn(&Config) -> String,
    /// Parses and stores a value (all of a CONFIG SET's or a config line's words, joined).
    pub set: fn(&mut Config, &str) -> Result<(), String>,
}

/// Every parameter, in CONFIG GET order.
pub static PARAMS: &[Param] = &[
    Param {
        name: "dir",
        aliases: &[],
        mutable: false,
        get: |c| c.dir.clone(),
        set: |c, v| {
            if v.is_empty() {
                return Err("directory name must not be empty".into());
            }
            c.dir = v.to_string();
            Ok(())
        },
    },
    Param {
        name: "durable-streams",
        aliases: &[],
        mutable: true,
        get: |c| c.durable_streams.to_string(),
        set: |c, v| crate::persist::DurablePolicy::parse(v).map(|p| c.durable_streams = p),
    },
    Param {
        name: "stream-fsync",
        aliases: &["appendfsync"],
        mutable: true,
        get: |c| c.stream_fsync.to_string(),
        set: |c, v| crate::persist::FsyncPolicy::parse(v).map(|p| c.stream_fsync = p),
    },
    Param {
        name: "stream-segment-size",
        aliases: &[],
        mutable: true,
        get: |c| c.stream_segment_size.to_string(),
        set: |c, v| match parse_memory(v) {
            Some(n) if n >= 4096 => {
                c.stream_segment_size = n;
                Ok(())
            }
            _ => Err("argument must be a memory value of at least 4096 bytes".into()),
        },
    },
    Param {
        name: "bind",
        aliases: &[],
        mutable: false,
        get: |c| c.bind.join(" "),
        set: |c, v| {
            c.bind = v.split_whitespace().map(str::to_string).collect();
            Ok(())
        },
    },
    Param { name: "port", aliases: &[], mutable: false, get: |c| c.port.to_string(), set: |c, v| int_in(v, 0, 65535).map(|n| c.port = n as u16) },
    Param {
        name: "databases",
        aliases: &[],
        mutable: false,
        get: |c| c.databases.to_string(),
        set: |c, v| int_in(v, 1, i64::from(i32::MAX)).map(|n| c.databases = n as usize),
    },
    Param {
        name: "loglevel",
        aliases: &[],
        mutable: true,
        get: |c| c.loglevel.to_string(),
        set: |c, v| LogLevel::parse(v).map(|l| c.loglevel = l).ok_or_else(|| "argument(s) must be one of the following: debug, verbose, notice, warning, nothing".into()),
    },
    Param {
        name: "maxclients",
        aliases: &[],
        mutable: true,
        get: |c| c.maxclients.to_string(),
        set: |c, v| int_in(v, 1, i64::from(u32::MAX)).map(|n| c.maxclients = n as usize),
    },
    Param { name: "timeout", aliases: &[], mutable: true, get: |c| c.timeout.to_string(), set: |c, v| int_in(v, 0, i64::from(i32::MAX)).map(|n| c.timeout = n as u64) },
    Param {
        name: "proto-max-bulk-len",
        aliases: &[],
        mutable: true,
        get: |c| c.proto_max_bulk_len.to_string(),
        set: |c, v| memory_in(v, 1024 * 1024, i64::MAX as u64).map(|n| c.proto_max_bulk_len = n),
    },
    Param {
        name: "client-query-buffer-limit",
        aliases: &[],
        mutable: true,
        get: |c| c.client_query_buffer_limit.to_string(),
        set: |c, v| memory_in(v, 1024 * 1024, i64::MAX as u64).map(|n| c.client_query_buffer_limit = n),
    },
    Param {
        name: "notify-keyspace-events",
        aliases: &[],
        mutable: true,
        get: |c| c.notify_keyspace_events.to_string(),
        set: |c, v| crate::pubsub::NotifyFlags::parse(v).map(|flags| c.notify_keyspace_events = flags),
    },
    Param {
        name: "client-output-buffer-limit",
        aliases: &[],
        mutable: true,
        get: |c| c.client_output_buffer_limit.to_string(),
        set: |c, v| c.client_output_buffer_limit.apply(v),
    },
    Param {
        name: "hash-max-listpack-entries",
        aliases: &["hash-max-ziplist-entries"],
        mutable: true,
        get: |c| c.hash_max_listpack_entries.to_string(),
        set: |c, v| int_in(v, 0, i64::MAX).map(|n| c.hash_max_listpack_entries = usize::try_from(n).unwrap_or(usize::MAX)),
    },
    Param {
        name: "hash-max-listpack-value",
        aliases: &["hash-max-ziplist-value"],
        mutable: true,
        get: |c| c.hash_max_listpack_value.to_string(),
        set: |c, v| memory_in(v, 0, i64::MAX as u64).map(|n| c.hash_max_listpack_value = usize::try_from(n).unwrap_or(usize::MAX)),
    },
    Param {
        name: "set-max-intset-entries",
        aliases: &[],
        mutable: true,
        get: |c| c.set_max_intset_entries.to_string(),
        set: |c, v| int_in(v, 0, i64::MAX).map(|n| c.set_max_intset_entries = usize::try_from(n).unwrap_or(usize::MAX)),
    },
    Param {
        name: "set-max-listpack-entries",
        aliases: &[],
        mutable: true,
        get: |c| c.set_max_listpack_entries.to_string(),
        set: |c, v| int_in(v, 0, i64::MAX).map(|n| c.set_max_listpack_entries = usize::try_from(n).unwrap_or(usize::MAX)),
    },
    Param {
        name: "set-max-listpack-value",
        aliases: &[],
        mutable: true,
        get: |c| c.set_max_listpack_value.to_string(),
        set: |c, v| memory_in(v, 0, i64::MAX as u64).map(|n| c.set_max_listpack_value = usize::try_from(n).unwrap_or(usize::MAX)),
    },
    Param {
        name: "zset-max-listpack-entries",
        aliases: &["zset-max-ziplist-entries"],
        mutable: true,
        get: |c| c.zset_max_listpack_entries.to_string(),
        set: |c, v| int_in(v, 0, i64::MAX).map(|n| c.zset_max_listpack_entries = usize::try_from(n).unwrap_or(usize::MAX)),
    },
    Param {
        name: "zset-max-listpack-value",
        aliases: &["zset-max-ziplist-value"],
        mutable: true,
        get: |c| c.zset_max_listpack_value.to_string(),
        set: |c, v| memory_in(v, 0, i64::MAX as u64).map(|n| c.zset_max_listpack_value = usize::try_from(n).unwrap_or(usize::MAX)),
    },
    Param { name: "ws-port", aliases: &[], mutable: false, get: |c| c.ws.port.to_string(), set: |c, v| int_in(v, 0, 65535).map(|n| c.ws.port = n as u16) },
    Param {
        name: "ws-bind",
        aliases: &[],
        mutable: false,
        get: |c| c.ws.bind.join(" "),
        set: |c, v| {
            c.ws.bind = v.split_whitespace().map(str::to_string).collect();
            Ok(())
        },
    },
    Param {
        name: "ws-allowed-origins",
        aliases: &[],
        mutable: true,
        get: |c| c.ws.allowed_origins.join(" "),
        set: |c, v| {
            c.ws.allowed_origins = v.split([' ', ',']).filter(|o| !o.is_empty()).map(str::to_string).collect();
            Ok(())
        },
    },
    Param {
        name: "ws-max-message-size",
        aliases: &[],
        mutable: true,
        get: |c| c.ws.max_message_size.to_string(),
        set: |c, v| memory_in(v, 1024, 1024 * 1024 * 1024).map(|n| c.ws.max_message_size = usize::try_from(n).unwrap_or(usize::MAX)),
    },
    Param {
        name: "ws-max-connections",
        aliases: &[],
        mutable: true,
        get: |c| c.ws.max_connections.to_string(),
        set: |c, v| int_in(v, 1, i64::from(u32::MAX)).map(|n| c.ws.max_connections = n as usize),
    },
    Param { name: "ws-send-queue", aliases: &[], mutable: true, get: |c| c.ws.send_queue.to_string(), set: |c, v| int_in(v, 1, 1 << 24).map(|n| c.ws.send_queue = n as usize) },
    Param { name: "ws-idle-timeout", aliases: &[], mutable: true, get: |c| c.ws.idle_timeout.to_string(), set: |c, v| int_in(v, 0, i64::from(i32::MAX)).map(|n| c.ws.idle_timeout = n as u64) },
    Param {
        name: "ws-token-secret",
        aliases: &[],
        mutable: true,
        get: |c| c.ws.token_secret.clone(),
        set: |c, v| {
            c.ws.token_secret = v.to_string();
            Ok(())
        },
    },
    Param {
        name: "stream-memory-budget",
        aliases: &[],
        mutable: true,
        get: |c| c.tiering.memory_budget().to_string(),
        set: |c, v| memory_in(v, 0, i64::MAX as u64).map(|n| c.tiering.set_memory_budget(n)),
    },
    Param {
        name: "stream-retention-ms",
        aliases: &[],
        mutable: true,
        get: |c| c.tiering.retention_ms().to_string(),
        set: |c, v| int_in(v, 0, i64::MAX).map(|n| c.tiering.set_retention_ms(n.unsigned_abs())),
    },
    Param {
        name: "stream-retention-bytes",
        aliases: &[],
        mutable: true,
        get: |c| c.tiering.retention_bytes().to_string(),
        set: |c, v| memory_in(v, 0, i64::MAX as u64).map(|n| c.tiering.set_retention_bytes(n)),
    },
    Param {
        name: "busy-reply-threshold",
        aliases: &["lua-time-limit"],
        mutable: true,
        get: |c| c.busy_reply_threshold.to_string(),
        set: |c, v| int_in(v, 0, i64::MAX).map(|n| c.busy_reply_threshold = n as u64),
    },
    Param { name: "hz", aliases: &[], mutable: true, get: |c| c.hz.to_string(), set: |c, v| int_in(v, 0, i64::from(i32::MAX)).map(|n| c.hz = (n as u32).clamp(1, 500)) },
];

/// Finds a parameter by name or alias, case-insensitively.
pub fn find_param(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name) || p.aliases.iter().any(|a| a.eq_ignore_ascii_case(name)))
}

fn int_in(value: &str, min: i64, max: i64) -> Result<i64, String> {
    let n: i64 = value.parse().map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    if n < min || n > max {
        return Err(format!("argument must be between {min} and {max} inclusive"));
    }
    Ok(n)
}

fn memory_in(value: &str, min: u64, max: u64) -> Result<u64, String> {
    let n = parse_memory(value).ok_or_else(|| "argument must be a memory value".to_string())?;
    if n < min || n > max {
        return Err(format!("argument must be between {min} and {max} inclusive"));
    }
    Ok(n)
}

/// Parses a memory amount as redis.conf writes them: `1024`, `1k` (1000), `1kb` (1024), `1m`,
/// `1mb`, `1g`, `1gb`, in any case.
pub fn parse_memory(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let split = lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let multiplier: u64 = match unit {
        "" | "b" => 1,
        "k" => 1_000,
        "kb" => 1_024,
        "m" => 1_000_000,
        "mb" => 1_024 * 1_024,
        "g" => 1_000_000_000,
        "gb" => 1_024 * 1_024 * 1_024,
        _ => return None,
    };
    n.checked_mul(multiplier)
}

impl Config {
    /// Sets parameter `name` from its textual value, as a config file line or a flag does.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let param = find_param(name).ok_or_else(|| ConfigError(format!("Bad directive or wrong number of arguments: '{name}'")))?;
        (param.set)(self, value).map_err(|e| ConfigError(format!("'{name}': {e}")))
    }

    /// Applies a config file's text (redis.conf syntax: `name value...`, `#` comments, quotes).
    pub fn apply_file_text(&mut self, text: &str) -> Result<(), ConfigError> {
        for (number, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let words = split_inline_args(trimmed.as_bytes())
                .map_err(|_| ConfigError(format!("line {}: unbalanced quotes", number + 1)))?;
            let mut words = words.iter().map(|w| String::from_utf8_lossy(w).into_owned());
            let Some(name) = words.next() else { continue };
            let value: Vec<String> = words.collect();
            self.set(&name, &value.join(" ")).map_err(|e| ConfigError(format!("line {}: {e}", number + 1)))?;
        }
        Ok(())
    }

    /// Builds a configuration from command-line arguments (without the program name):
    /// `[config-file] [--name value...]...`, as redis-server takes them.
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let mut args = args.into_iter().peekable();
        if let Some(first) = args.peek() {
            if !first.starts_with("--") {
                let path = first.clone();
                args.next();
                let text = std::fs::read_to_string(&path).map_err(|e| ConfigError(format!("cannot read config file {path}: {e}")))?;
                config.apply_file_text(&text)?;
                config.config_file = Some(path);
            }
        }
        while let Some(flag) = args.next() {
            let Some(name) = flag.strip_prefix("--") else {
                return Err(ConfigError(format!("unexpected argument '{flag}'")));
            };
            let mut values = Vec::new();
            while let Some(next) = args.peek() {
                if next.starts_with("--") {
                    break;
                }
                values.push(args.next().unwrap_or_default());
            }
            config.set(name, &values.join(" "))?;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn flags_override_the_config_file() {
        let mut config = Config::default();
        config.apply_file_text("# comment\nport 7000\ntimeout 5\n").unwrap();
        assert_eq!(config.port, 7000);
        let config = Config::from_args(["--port".to_string(), "7001".to_string(), "--databases".into(), "4".into()]).unwrap();
        assert_eq!((config.port, config.databases), (7001, 4));
    }

    #[test]
    fn memory_units_follow_redis_conf() {
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("1K"), Some(1000));
        assert_eq!(parse_memory("512mb"), Some(512 * 1024 * 1024));
        assert_eq!(parse_memory("12x"), None);
    }

    #[test]
    fn client_output_buffer_limit_reads_and_prints_like_redis() {
        let mut config = Config::default();
        assert_eq!(config.client_output_buffer_limit.to_string(), "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
        config.set("client-output-buffer-limit", "pubsub 1mb 512kb 10 replica 4 5 6").unwrap();
        assert_eq!(config.client_output_buffer_limit.to_string(), "normal 0 0 0 slave 4 5 6 pubsub 1048576 524288 10");
        assert!(config.set("client-output-buffer-limit", "slave 4 5").is_err());
        assert!(config.set("client-output-buffer-limit", "pubsub 1 1 -1").is_err());
        assert!(config.set("client-output-buffer-limit", "normal 1 1 1 foo 1 2 3").is_err());
        assert_eq!(config.client_output_buffer_limit.normal.hard, 0);
    }

    #[test]
    fn unknown_directives_are_errors() {
        assert!(Config::default().apply_file_text("nonsense 1\n").is_err());
    }
}
