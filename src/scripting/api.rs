//! The `redis` table scripts see, and the error handler that shapes script errors.
//!
//! `redis.call`, `redis.pcall` and `redis.setresp` are C functions registered once per
//! interpreter ([`super::raw`]) that reach the running client's context through the
//! interpreter's slot, so commands go through the same dispatch as RESP. `redis.call` raises a
//! command's error as `{err="..."}` (as Redis raises it; the error handler adds where);
//! `redis.pcall` returns the table. Being C functions, not Lua wrappers, `return
//! redis.call(...)` keeps the script's frame (a Lua tail call would lose the line number
//! errors report).

use bytes::Bytes;
use mlua::{Lua, Table, Value, Variadic};

/// A Rust-side error carrying the complete error text (code included), as the error
/// handler turns it into `{err=text}`.
pub fn raise(text: &str) -> mlua::Error {
    mlua::Error::RuntimeError(text.to_string())
}

/// `{err=text}`.
pub fn error_table(lua: &Lua, text: &[u8]) -> mlua::Result<Table> {
    let table = lua.create_table_with_capacity(0, 1)?;
    table.raw_set("err", lua.create_string(text)?)?;
    Ok(table)
}

/// Redis's `luaPushErrorBuff`: `-CODE msg` keeps its code, anything else gets `ERR`.
pub fn error_text(text: &[u8]) -> Vec<u8> {
    let (code, message): (&[u8], &[u8]) = match text.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&b| b == b' ') {
            Some(space) => (rest.get(..space).unwrap_or_default(), rest.get(space + 1..).unwrap_or_default()),
            None => (b"ERR", rest),
        },
        None => (b"ERR", text),
    };
    let message = trim_crlf(message);
    let mut out = Vec::with_capacity(code.len() + 1 + message.len());
    out.extend_from_slice(code);
    out.push(b' ');
    out.extend_from_slice(message);
    out
}

fn trim_crlf(mut bytes: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b'\r' | b'\n'] = bytes {
        bytes = rest;
    }
    bytes
}

/// The text of an error raised from Rust (a hook or an API function): the innermost message.
pub fn rust_error_text(error: &mlua::Error) -> String {
    match error {
        mlua::Error::RuntimeError(text) => text.clone(),
        mlua::Error::CallbackError { cause, .. } => rust_error_text(cause),
        mlua::Error::MemoryError(_) => "ERR Out of memory in script".into(),
        other => format!("ERR {other}"),
    }
}

/// The message handler scripts run under (`xpcall`): turns any error into a table
/// `{err=..., source=..., line=...}` naming the script frame that raised it, as Redis's
/// `__redis__err__handler` does.
pub fn error_handler(lua: &Lua, error: Value) -> mlua::Result<Value> {
    let table = match error {
        Value::Table(table) => table,
        other => {
            let text = match &other {
                Value::Error(e) => rust_error_text(e),
                Value::String(s) => format!("ERR {}", s.to_string_lossy()),
                Value::Nil => "ERR nil".into(),
                Value::Boolean(b) => format!("ERR {b}"),
                Value::Integer(n) => format!("ERR {n}"),
                Value::Number(n) => format!("ERR {n}"),
                _ => "ERR unknown error".into(),
            };
            error_table(lua, text.as_bytes())?
        }
    };
    for level in 1..256 {
        let frame = lua.inspect_stack(level, |debug| {
            let source = debug.source();
            (source.what, source.source.map(|s| s.into_owned()), debug.current_line())
        });
        let Some((what, source, line)) = frame else { break };
        let source = source.unwrap_or_default();
        if what == "C" || source.starts_with("=herald") {
            continue;
        }
        table.raw_set("source", source)?;
        if let Some(line) = line {
            table.raw_set("line", line)?;
        }
        break;
    }
    Ok(Value::Table(table))
}

/// Builds the `redis` table (without `call`, `pcall` and `setresp`: see [`super::raw`]).
pub fn redis_table(lua: &Lua) -> mlua::Result<Table> {
    let redis = lua.create_table()?;
    redis.raw_set(
        "sha1hex",
        lua.create_function(|_, args: Variadic<Value>| {
            if args.len() != 1 {
                return Err(raise("ERR wrong number of arguments"));
            }
            let text = match args.first() {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                Some(Value::Integer(n)) => n.to_string().into_bytes(),
                Some(Value::Number(n)) => lua_number_text(*n).into_bytes(),
                _ => Vec::new(),
            };
            Ok(sha1_smol::Sha1::from(text).digest().to_string())
        })?,
    )?;
    redis.raw_set(
        "error_reply",
        lua.create_function(|lua, args: Variadic<Value>| match (args.len(), args.first()) {
            (1, Some(Value::String(s))) => {
                let bytes = s.as_bytes();
                let prefixed: Vec<u8> = if bytes.starts_with(b"-") { bytes.to_vec() } else { [b"-", &bytes[..]].concat() };
                error_table(lua, &error_text(&prefixed))
            }
            _ => error_table(lua, b"ERR wrong number or type of arguments"),
        })?,
    )?;
    redis.raw_set(
        "status_reply",
        lua.create_function(|lua, args: Variadic<Value>| match (args.len(), args.first()) {
            (1, Some(Value::String(s))) => {
                let table = lua.create_table_with_capacity(0, 1)?;
                table.raw_set("ok", s.clone())?;
                Ok(table)
            }
            _ => error_table(lua, b"ERR wrong number or type of arguments"),
        })?,
    )?;
    redis.raw_set(
        "log",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.len() < 2 {
                return Err(raise("ERR redis.log() requires two arguments or more."));
            }
            let level = match args.first() {
                Some(Value::Integer(n)) => *n as f64,
                Some(Value::Number(n)) => *n,
                _ => return Err(raise("ERR First argument must be a number (log level).")),
            };
            if !(0.0..=3.0).contains(&level) {
                return Err(raise("ERR Invalid log level."));
            }
            let mut message = String::new();
            for (i, arg) in args.iter().skip(1).enumerate() {
                if i > 0 {
                    message.push(' ');
                }
                if let Ok(Some(s)) = lua.coerce_string(arg.clone()) {
                    message.push_str(&s.to_string_lossy());
                }
            }
            match level as i64 {
                0 => tracing::debug!(target: "script", "{message}"),
                1 => tracing::info!(target: "script", "{message}"),
                2 => tracing::info!(target: "script", "{message}"),
                _ => tracing::warn!(target: "script", "{message}"),
            }
            Ok(())
        })?,
    )?;
    redis.raw_set(
        "set_repl",
        lua.create_function(|_, args: Variadic<Value>| {
            if args.len() != 1 {
                return Err(raise("ERR redis.set_repl() requires one argument."));
            }
            let flags = match args.first() {
                Some(Value::Integer(n)) => *n as f64,
                Some(Value::Number(n)) => *n,
                _ => -1.0,
            };
            if !(0.0..=3.0).contains(&flags) {
                return Err(raise("ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."));
            }
            Ok(())
        })?,
    )?;
    redis.raw_set("replicate_commands", lua.create_function(|_, _: Variadic<Value>| Ok(true))?)?;
    redis.raw_set("breakpoint", lua.create_function(|_, _: Variadic<Value>| Ok(false))?)?;
    redis.raw_set("debug", lua.create_function(|_, _: Variadic<Value>| Ok(()))?)?;
    for (name, value) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        redis.raw_set(name, value)?;
    }
    let version = crate::cmd::connection::REDIS_VERSION;
    redis.raw_set("REDIS_VERSION", version)?;
    redis.raw_set("REDIS_VERSION_NUM", version_num(version))?;
    Ok(redis)
}

/// `7.4.0` -> `0x070400`, as `REDIS_VERSION_NUM`.
fn version_num(version: &str) -> i64 {
    version.split('.').take(3).fold(0, |acc, part| (acc << 8) | part.parse::<i64>().unwrap_or(0))
}

/// For the sandbox's `pcall`: an error raised from Rust (a userdata in Lua) becomes the
/// table `{err=...}` Redis's scripts would see; anything else passes through.
pub fn error_value_to_table(lua: &Lua, value: Value) -> mlua::Result<Value> {
    match value {
        Value::Error(e) => Ok(Value::Table(error_table(lua, rust_error_text(&e).as_bytes())?)),
        other => Ok(other),
    }
}

/// Lua's `%.14g` rendering of a number, as `lua_tolstring` gives it.
pub fn lua_number_text(n: f64) -> String {
    if n == n.trunc() && n.abs() < 1e15 {
        return format!("{}", n as i64);
    }
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan".into() } else { "nan".into() };
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // %.14g: 14 significant digits, trailing zeros removed, exponent form when the exponent is
    // below -4 or at least 14.
    let exponent = n.abs().log10().floor() as i32;
    if !(-4..14).contains(&exponent) {
        let text = format!("{:.13e}", n);
        let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = if mantissa.contains('.') { mantissa.trim_end_matches('0').trim_end_matches('.') } else { mantissa };
        let exp: i32 = exp.parse().unwrap_or(0);
        return format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    let decimals = usize::try_from(13 - exponent).unwrap_or(0);
    let text = format!("{:.*}", decimals, n);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Turns `redis.call`'s arguments into command arguments: strings as they are, numbers as Lua
/// prints them. Errors with Redis's text for anything else.
pub fn command_args(lua: &Lua, values: &[Value]) -> Result<Vec<Bytes>, &'static str> {
    if values.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    let mut args = Vec::with_capacity(values.len());
    for value in values {
        match value {
            Value::String(s) => args.push(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Integer(n) => args.push(Bytes::from(n.to_string())),
            Value::Number(n) => match lua.coerce_string(Value::Number(*n)) {
                Ok(Some(s)) => args.push(Bytes::copy_from_slice(&s.as_bytes())),
                _ => args.push(Bytes::from(lua_number_text(*n))),
            },
            _ => return Err("ERR Lua redis lib command arguments must be strings or integers"),
        }
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_keeps_a_code_and_adds_err_otherwise() {
        assert_eq!(error_text(b"-x y"), b"x y");
        assert_eq!(error_text(b"-"), b"ERR ");
        assert_eq!(error_text(b"oops"), b"ERR oops");
    }

    #[test]
    fn numbers_print_as_lua_prints_them() {
        assert_eq!(lua_number_text(3.0), "3");
        assert_eq!(lua_number_text(3.5), "3.5");
        assert_eq!(lua_number_text(1e20), "1e+20");
        assert_eq!(lua_number_text(0.1), "0.1");
    }

    #[test]
    fn version_num_packs_three_bytes() {
        assert_eq!(version_num("7.0.15"), 458767);
    }
}
