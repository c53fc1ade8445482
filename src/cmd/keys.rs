//! Generic key commands: DEL, EXISTS, ...
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::{CommandSpec, Ctx};
use crate::resp::Reply;
use bytes::Bytes;

/// `DEL key [key ...]`: removes keys; replies how many existed.
fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let now = ctx.now_ms();
    let mut removed = 0i64;
    for key in &args[1..] {
        if ctx.db().contains(key, now) {
            ctx.db().remove(key);
            ctx.notify('g', "del", key);
            removed += 1;
        }
    }
    Reply::Integer(removed)
}

/// `EXISTS key [key ...]`: how many of the keys exist (repeats count again).
fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let now = ctx.now_ms();
    let count = args[1..].iter().filter(|key| ctx.db().contains(key, now)).count();
    Reply::from(count)
}

/// The generic key commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, &["write"], (1, -1, 1), "generic", "Deletes one or more keys.", del),
    CommandSpec::new("exists", -2, &["readonly", "fast"], (1, -1, 1), "generic", "Determines whether one or more keys exist.", exists).since("1.0.0"),
];
