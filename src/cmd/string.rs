//! String commands: GET, SET, ...
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::{errors, CommandSpec, Ctx};
use crate::keyspace::{StringValue, Value};
use crate::resp::Reply;
use bytes::Bytes;

/// `GET key`: the value, or null.
/// Errors: `WRONGTYPE` if the key holds another type.
fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let now = ctx.now_ms();
    let found = ctx.db().get_value(&args[1], now).map(|value| match value {
        Value::String(s) => Ok(s.to_bytes()),
        #[allow(unreachable_patterns)]
        _ => Err(()),
    });
    ctx.shared.stats.record_lookup(found.is_some());
    match found {
        None => Reply::Null,
        Some(Ok(bytes)) => Reply::Bulk(bytes),
        Some(Err(())) => errors::wrong_type(),
    }
}

/// `SET key value`: stores a string.
fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let now = ctx.now_ms();
    let value = Value::String(StringValue::from_bytes(&args[2]));
    ctx.db().insert(&args[1], value, None, now);
    ctx.notify('$', "set", &args[1]);
    Reply::ok()
}

/// The string commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, &["readonly", "fast"], (1, 1, 1), "string", "Returns the string value of a key.", get),
    CommandSpec::new("set", -3, &["write", "denyoom"], (1, 1, 1), "string", "Sets the string value of a key, ignoring its type.", set),
];
