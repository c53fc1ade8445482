//! Pub/Sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE, SUNSUBSCRIBE,
//! PUBLISH, SPUBLISH, PUBSUB.
//!
//! The (un)subscribe commands answer with one push per channel (`[subscribe, name, count]`),
//! written as RESP2 arrays or RESP3 push frames; they return them pre-encoded as one
//! [`Reply::Raw`]. The subscription tables live in [`crate::pubsub`].
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::{CommandSpec, Ctx};
use crate::pubsub::{self, Kind};
use crate::resp::{encode, Protocol, Reply};
use bytes::{Bytes, BytesMut};

/// Appends one `[kind, name or nil, count]` confirmation push to `out`.
fn confirmation(out: &mut BytesMut, word: &'static str, name: Option<&Bytes>, count: usize, protocol: Protocol) {
    let name = name.map_or(Reply::Null, |n| Reply::Bulk(n.clone()));
    encode(&Reply::Push(vec![Reply::Bulk(Bytes::from_static(word.as_bytes())), name, Reply::from(count)]), protocol, out);
}

/// The reply word for subscribing to `kind`.
fn subscribe_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Channel => "subscribe",
        Kind::Pattern => "psubscribe",
        Kind::Shard => "ssubscribe",
    }
}

/// The reply word for unsubscribing from `kind`.
fn unsubscribe_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Channel => "unsubscribe",
        Kind::Pattern => "punsubscribe",
        Kind::Shard => "sunsubscribe",
    }
}

/// Subscribes the client to each name in `names` (repeats are confirmed again, not added).
fn subscribe_generic(ctx: &mut Ctx<'_>, names: &[Bytes], kind: Kind) -> Reply {
    let protocol = ctx.client.protocol;
    ctx.client.handle.outbox.set_resp3(protocol == Protocol::Resp3);
    let mut out = BytesMut::new();
    for name in names {
        if ctx.client.subscriptions.set(kind).insert(name.clone()) {
            ctx.shared.pubsub.subscribe(kind, name.clone(), &ctx.client.handle);
        }
        confirmation(&mut out, subscribe_word(kind), Some(name), ctx.client.subscriptions.reply_count(kind), protocol);
    }
    Reply::Raw(out.freeze())
}

/// Unsubscribes the client from `names`, or from everything of `kind` when there are none.
fn unsubscribe_generic(ctx: &mut Ctx<'_>, names: &[Bytes], kind: Kind) -> Reply {
    let protocol = ctx.client.protocol;
    let id = ctx.client.id;
    let names: Vec<Bytes> = if names.is_empty() { ctx.client.subscriptions.set(kind).in_order() } else { names.to_vec() };
    let mut out = BytesMut::new();
    if names.is_empty() {
        confirmation(&mut out, unsubscribe_word(kind), None, ctx.client.subscriptions.reply_count(kind), protocol);
    }
    for name in &names {
        ctx.client.subscriptions.set(kind).remove(name);
        ctx.shared.pubsub.unsubscribe(kind, name, id);
        confirmation(&mut out, unsubscribe_word(kind), Some(name), ctx.client.subscriptions.reply_count(kind), protocol);
    }
    Reply::Raw(out.freeze())
}

/// `SUBSCRIBE channel [channel ...]`: one `[subscribe, channel, count]` per channel, where
/// count is the client's channels plus patterns. Afterwards a RESP2 client may only run
/// (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING, QUIT and RESET.
fn subscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    subscribe_generic(ctx, &args[1..], Kind::Channel)
}

/// `UNSUBSCRIBE [channel ...]`: one `[unsubscribe, channel, count]` per channel (all of the
/// client's channels without arguments; `[unsubscribe, nil, count]` if it had none).
fn unsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    unsubscribe_generic(ctx, &args[1..], Kind::Channel)
}

/// `PSUBSCRIBE pattern [pattern ...]`: like SUBSCRIBE, for glob patterns; messages arrive as
/// `[pmessage, pattern, channel, message]`.
fn psubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    subscribe_generic(ctx, &args[1..], Kind::Pattern)
}

/// `PUNSUBSCRIBE [pattern ...]`: like UNSUBSCRIBE, for patterns.
fn punsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    unsubscribe_generic(ctx, &args[1..], Kind::Pattern)
}

/// `SSUBSCRIBE shardchannel [shardchannel ...]`: like SUBSCRIBE, for shard channels; the count
/// is the client's shard channels; messages arrive as `[smessage, channel, message]`.
fn ssubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    subscribe_generic(ctx, &args[1..], Kind::Shard)
}

/// `SUNSUBSCRIBE [shardchannel ...]`: like UNSUBSCRIBE, for shard channels.
fn sunsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    unsubscribe_generic(ctx, &args[1..], Kind::Shard)
}

/// `PUBLISH channel message`: the number of receivers (channel subscribers plus matching
/// pattern subscriptions).
fn publish(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    Reply::from(pubsub::publish(ctx.shared, &args[1], &args[2]))
}

/// `SPUBLISH shardchannel message`: the number of shard channel subscribers that received it.
fn spublish(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    Reply::from(pubsub::spublish(ctx.shared, &args[1], &args[2]))
}

/// `PUBSUB CHANNELS [pattern]` / `PUBSUB SHARDCHANNELS [pattern]`: active channels, sorted.
/// Errors: `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try PUBSUB HELP.`
fn channels_generic(ctx: &mut Ctx<'_>, args: &[Bytes], kind: Kind) -> Reply {
    if args.len() > 3 {
        return Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(&args[1])
        ));
    }
    Reply::bulks(ctx.shared.pubsub.channels(kind, args.get(2).map(|p| &p[..])))
}

/// `PUBSUB CHANNELS [pattern]`: channels with at least one subscriber, matching the pattern.
fn pubsub_channels(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    channels_generic(ctx, args, Kind::Channel)
}

/// `PUBSUB SHARDCHANNELS [pattern]`: shard channels with at least one subscriber.
fn pubsub_shardchannels(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    channels_generic(ctx, args, Kind::Shard)
}

/// `[name, count, name, count, ...]` for NUMSUB and SHARDNUMSUB (a flat array in RESP3 too).
fn numsub_generic(ctx: &mut Ctx<'_>, args: &[Bytes], kind: Kind) -> Reply {
    let mut items = Vec::with_capacity(args.len().saturating_sub(2) * 2);
    for name in &args[2..] {
        items.push(Reply::Bulk(name.clone()));
        items.push(Reply::from(ctx.shared.pubsub.numsub(kind, name)));
    }
    Reply::Array(items)
}

/// `PUBSUB NUMSUB [channel ...]`: each channel's subscriber count (patterns not included).
fn pubsub_numsub(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    numsub_generic(ctx, args, Kind::Channel)
}

/// `PUBSUB SHARDNUMSUB [shardchannel ...]`: each shard channel's subscriber count.
fn pubsub_shardnumsub(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    numsub_generic(ctx, args, Kind::Shard)
}

/// `PUBSUB NUMPAT`: the number of distinct patterns subscribed to.
fn pubsub_numpat(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::from(ctx.shared.pubsub.pattern_count())
}

/// `PUBSUB HELP`: the subcommands, one line each.
fn pubsub_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    const LINES: &[&str] = &[
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Print this help.",
    ];
    Reply::Array(LINES.iter().map(|line| Reply::simple(line)).collect())
}

/// The reply a RESP2 client in subscribed mode gets to PING: `[pong, message or ""]`.
pub fn subscribed_ping(args: &[Bytes]) -> Reply {
    let message = args.get(1).cloned().unwrap_or_default();
    Reply::Array(vec![Reply::Bulk(Bytes::from_static(b"pong")), Reply::Bulk(message)])
}

/// Whether a RESP2 client in subscribed mode may run `spec`.
pub fn allowed_when_subscribed(spec: &CommandSpec) -> bool {
    matches!(spec.name, "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ssubscribe" | "sunsubscribe" | "ping" | "quit" | "reset")
}

const SUB_FLAGS: &[&str] = &["pubsub", "noscript", "loading", "stale"];

static PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("pubsub|channels", -2, &["pubsub", "loading", "stale"], (0, 0, 0), "pubsub", "Returns the active channels.", pubsub_channels).since("2.8.0"),
    CommandSpec::new("pubsub|numpat", 2, &["pubsub", "loading", "stale"], (0, 0, 0), "pubsub", "Returns a count of unique pattern subscriptions.", pubsub_numpat).since("2.8.0"),
    CommandSpec::new("pubsub|numsub", -2, &["pubsub", "loading", "stale"], (0, 0, 0), "pubsub", "Returns a count of subscribers to channels.", pubsub_numsub).since("2.8.0"),
    CommandSpec::new("pubsub|shardchannels", -2, &["pubsub", "loading", "stale"], (0, 0, 0), "pubsub", "Returns the active shard channels.", pubsub_shardchannels).since("7.0.0"),
    CommandSpec::new("pubsub|shardnumsub", -2, &["pubsub", "loading", "stale"], (0, 0, 0), "pubsub", "Returns the count of subscribers of shard channels.", pubsub_shardnumsub).since("7.0.0"),
    CommandSpec::new("pubsub|help", 2, &["loading", "stale"], (0, 0, 0), "pubsub", "Returns helpful text about the different subcommands.", pubsub_help).since("6.2.0"),
];

/// The pubsub commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("subscribe", -2, SUB_FLAGS, (0, 0, 0), "pubsub", "Listens for messages published to channels.", subscribe).since("2.0.0"),
    CommandSpec::new("unsubscribe", -1, SUB_FLAGS, (0, 0, 0), "pubsub", "Stops listening to messages posted to channels.", unsubscribe).since("2.0.0"),
    CommandSpec::new("psubscribe", -2, SUB_FLAGS, (0, 0, 0), "pubsub", "Listens for messages published to channels that match one or more patterns.", psubscribe).since("2.0.0"),
    CommandSpec::new("punsubscribe", -1, SUB_FLAGS, (0, 0, 0), "pubsub", "Stops listening to messages published to channels that match one or more patterns.", punsubscribe).since("2.0.0"),
    CommandSpec::new("ssubscribe", -2, SUB_FLAGS, (1, -1, 1), "pubsub", "Listens for messages published to shard channels.", ssubscribe).since("7.0.0"),
    CommandSpec::new("sunsubscribe", -1, SUB_FLAGS, (1, -1, 1), "pubsub", "Stops listening to messages posted to shard channels.", sunsubscribe).since("7.0.0"),
    CommandSpec::new("publish", 3, &["pubsub", "loading", "stale", "fast", "may_replicate"], (0, 0, 0), "pubsub", "Posts a message to a channel.", publish).since("2.0.0"),
    CommandSpec::new("spublish", 3, &["pubsub", "loading", "stale", "fast", "may_replicate"], (1, 1, 1), "pubsub", "Post a message to a shard channel", spublish).since("7.0.0"),
    CommandSpec::container("pubsub", -2, "pubsub", "A container for Pub/Sub commands.", PUBSUB_SUBCOMMANDS).since("2.8.0"),
];
