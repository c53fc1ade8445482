//! CONFIG GET, SET, RESETSTAT, REWRITE and HELP, over the parameter table in
//! [`crate::config::PARAMS`].
//!
//! CONFIG SET is atomic, as in Redis 7: every name is checked first (unknown, immutable,
//! duplicate), then the values are applied to a copy of the configuration, which replaces the
//! live one only if all of them were accepted.
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::{errors, CommandSpec, Ctx};
use crate::config::{find_param, Config, Param, LOG_LEVEL_HOOK, PARAMS};
use crate::glob;
use crate::resp::Reply;
use bytes::Bytes;
use std::sync::atomic::{AtomicU64, Ordering};

/// `CONFIG GET parameter [parameter ...]`: a map of every parameter matching any of the glob
/// patterns to its value. A pattern without glob characters names one parameter (or alias)
/// and is echoed as written.
fn config_get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let config = ctx.shared.config.read();
    let mut seen: Vec<String> = Vec::new();
    let mut pairs = Vec::new();
    let mut add = |name: String, param: &Param, pairs: &mut Vec<(Reply, Reply)>| {
        let key = name.to_ascii_lowercase();
        if !seen.contains(&key) {
            seen.push(key);
            pairs.push((Reply::Bulk(Bytes::from(name)), Reply::Bulk(Bytes::from((param.get)(&config)))));
        }
    };
    for pattern in &args[2..] {
        if !pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
            let name = String::from_utf8_lossy(pattern).into_owned();
            if let Some(param) = find_param(&name) {
                add(name, param, &mut pairs);
            }
            continue;
        }
        for param in PARAMS {
            for name in std::iter::once(&param.name).chain(param.aliases) {
                if glob::matches_with_case(pattern, name.as_bytes(), true) {
                    add((*name).to_string(), param, &mut pairs);
                }
            }
        }
    }
    Reply::Map(pairs)
}

fn set_failed(name: &[u8], reason: &str) -> Reply {
    Reply::error(format!(
        "ERR CONFIG SET failed (possibly related to argument '{}') - {reason}",
        String::from_utf8_lossy(name)
    ))
}

/// `CONFIG SET parameter value [parameter value ...]`: sets every pair, or none.
///
/// Errors: `ERR syntax error` (an odd number of words),
/// `ERR Unknown option or number of arguments for CONFIG SET - '<name>'`,
/// `ERR CONFIG SET failed (possibly related to argument '<name>') - can't set immutable config`,
/// `... - duplicate parameter`, and `... - <why the value is invalid>`.
fn config_set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if !args.len().is_multiple_of(2) {
        return errors::syntax();
    }
    let mut chosen: Vec<(&Bytes, &'static Param, String)> = Vec::new();
    for pair in args[2..].chunks_exact(2) {
        let (name, value) = (&pair[0], &pair[1]);
        let Some(param) = std::str::from_utf8(name).ok().and_then(find_param) else {
            return Reply::error(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                String::from_utf8_lossy(name)
            ));
        };
        if !param.mutable {
            return set_failed(name, "can't set immutable config");
        }
        if chosen.iter().any(|(_, p, _)| std::ptr::eq(*p, param)) {
            return set_failed(name, "duplicate parameter");
        }
        chosen.push((name, param, String::from_utf8_lossy(value).into_owned()));
    }
    let mut updated = ctx.shared.config.read().clone();
    for (name, param, value) in &chosen {
        if let Err(reason) = (param.set)(&mut updated, value) {
            return set_failed(name, &reason);
        }
    }
    let level = updated.loglevel;
    // Writes record keyspace events only while the flags publish something.
    ctx.keyspace.set_notifications(updated.notify_keyspace_events.enabled());
    let level_changed = {
        let mut config = ctx.shared.config.write();
        let changed = config.loglevel != level;
        *config = updated;
        changed
    };
    if level_changed {
        if let Some(apply) = LOG_LEVEL_HOOK.get() {
            apply(level);
        }
    }
    let persist_changed = chosen.iter().any(|(_, p, _)| matches!(p.name, "durable-streams" | "stream-fsync" | "stream-segment-size"));
    // While durable streams load, the loader applies the settings when it is done.
    if persist_changed && !ctx.shared.is_loading() {
        let config = ctx.shared.config.read().clone();
        if let Err(reason) = crate::persist::configure(ctx.keyspace, &config) {
            return Reply::error(format!("ERR CONFIG SET failed - {reason}"));
        }
    }
    Reply::ok()
}

/// `CONFIG RESETSTAT`: zeroes the statistics INFO reports (stats and commandstats).
fn config_resetstat(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    let stats = &ctx.shared.stats;
    let counters: [&AtomicU64; 10] = [
        &stats.total_connections_received,
        &stats.total_commands_processed,
        &stats.rejected_connections,
        &stats.expired_keys,
        &stats.keyspace_hits,
        &stats.keyspace_misses,
        &stats.total_error_replies,
        &stats.total_net_input_bytes,
        &stats.total_net_output_bytes,
        &stats.client_output_buffer_limit_disconnections,
    ];
    for counter in counters {
        counter.store(0, Ordering::Relaxed);
    }
    stats.commands.lock().clear();
    Reply::ok()
}

/// Quotes a value for a redis.conf line when it would not read back as itself.
fn conf_value(value: &str) -> String {
    if value.is_empty() {
        return "\"\"".into();
    }
    if value.bytes().any(|b| matches!(b, b'"' | b'\'' | b'\\' | b'#') || !(b' '..=b'~').contains(&b)) {
        let mut quoted = String::from("\"");
        for b in value.bytes() {
            match b {
                b'"' => quoted.push_str("\\\""),
                b'\\' => quoted.push_str("\\\\"),
                b' '..=b'~' => quoted.push(char::from(b)),
                _ => quoted.push_str(&format!("\\x{b:02x}")),
            }
        }
        quoted.push('"');
        return quoted;
    }
    value.to_string()
}

/// The text of `original` with every parameter line set to `config`'s value: the first line
/// of a parameter is replaced, later ones dropped, and parameters that differ from their
/// default and have no line are appended. Comments and unknown lines stay as they are.
pub fn rewrite_text(original: &str, config: &Config) -> String {
    let defaults = Config::default();
    let mut written: Vec<&'static str> = Vec::new();
    let mut out = String::with_capacity(original.len() + 256);
    for line in original.lines() {
        let first = line.split_whitespace().next().unwrap_or_default();
        let param = if line.trim_start().starts_with('#') { None } else { find_param(first) };
        match param {
            Some(param) if written.contains(&param.name) => {}
            Some(param) => {
                written.push(param.name);
                out.push_str(&format!("{} {}\n", param.name, conf_value(&(param.get)(config))));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    let mut header = false;
    for param in PARAMS {
        let value = (param.get)(config);
        if written.contains(&param.name) || value == (param.get)(&defaults) {
            continue;
        }
        if !header {
            out.push_str("# Generated by CONFIG REWRITE\n");
            header = true;
        }
        out.push_str(&format!("{} {}\n", param.name, conf_value(&value)));
    }
    out
}

/// `CONFIG REWRITE`: writes the running configuration back to the file it was read from,
/// keeping comments and unknown lines.
/// Errors: `ERR The server is running without a config file`, `ERR Rewriting config file: <why>`.
fn config_rewrite(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    let config = ctx.shared.config.read().clone();
    let Some(path) = config.config_file.clone() else {
        return Reply::error("ERR The server is running without a config file");
    };
    let original = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Reply::error(format!("ERR Rewriting config file: {e}")),
    };
    let text = rewrite_text(&original, &config);
    // Write a sibling file and rename it over the original, so a crash never leaves half a file.
    let temp = format!("{path}.herald-rewrite");
    let written = std::fs::write(&temp, text).and_then(|()| std::fs::rename(&temp, &path));
    match written {
        Ok(()) => Reply::ok(),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Reply::error(format!("ERR Rewriting config file: {e}"))
        }
    }
}

/// `CONFIG HELP`: the subcommands.
fn config_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    help_reply(
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    )
}

/// The reply of a `<COMMAND> HELP` subcommand, in Redis's layout.
pub fn help_reply(command: &str, lines: &[&str]) -> Reply {
    let mut out = Vec::with_capacity(lines.len() + 3);
    out.push(Reply::Simple(Bytes::from(format!(
        "{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ))));
    out.extend(lines.iter().map(|line| Reply::Simple(Bytes::copy_from_slice(line.as_bytes()))));
    out.push(Reply::simple("HELP"));
    out.push(Reply::simple("    Print this help."));
    Reply::Array(out)
}

const SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("config|get", -3, &["admin", "noscript", "loading", "stale"], (0, 0, 0), "server", "Returns the effective values of configuration parameters.", config_get).since("2.0.0"),
    CommandSpec::new("config|set", -4, &["admin", "noscript", "loading", "stale"], (0, 0, 0), "server", "Sets configuration parameters in-flight.", config_set).since("2.0.0"),
    CommandSpec::new("config|resetstat", 2, &["admin", "noscript", "loading", "stale"], (0, 0, 0), "server", "Resets the server's statistics.", config_resetstat).since("2.0.0"),
    CommandSpec::new("config|rewrite", 2, &["admin", "noscript", "loading", "stale"], (0, 0, 0), "server", "Persists the effective configuration to file.", config_rewrite).since("2.8.0"),
    CommandSpec::new("config|help", 2, &["loading", "stale"], (0, 0, 0), "server", "Returns helpful text about the different subcommands.", config_help).since("5.0.0"),
];

/// The CONFIG command.
pub static COMMANDS: &[CommandSpec] = &[CommandSpec::container("config", -2, "server", "A container for server configuration commands.", SUBCOMMANDS).since("2.0.0")];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_replaces_the_first_line_drops_repeats_and_appends_changes() {
        let config = Config { timeout: 7, maxclients: 50, ..Config::default() };
        let text = rewrite_text("# keep me\ntimeout 1\nfoo bar\ntimeout 2\n", &config);
        assert_eq!(text, "# keep me\ntimeout 7\nfoo bar\n# Generated by CONFIG REWRITE\nmaxclients 50\n");
    }

    #[test]
    fn rewrite_quotes_values_that_would_not_read_back() {
        assert_eq!(conf_value(""), "\"\"");
        assert_eq!(conf_value("a\"b"), "\"a\\\"b\"");
        assert_eq!(conf_value("127.0.0.1 -::1"), "127.0.0.1 -::1");
    }
}
