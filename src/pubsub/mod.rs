//! Pub/Sub: channels, patterns, shard channels, keyspace notifications and bounded fan-out.
//!
//! # Layout
//! - [`hub`]: the server-wide subscription tables (channels, shard channels, a prefix index of
//!   patterns) and fan-out of one published message to every receiver.
//! - [`outbox`]: each subscriber's queue of pre-encoded frames, bounded by
//!   `client-output-buffer-limit pubsub`; the connection task drains it in batches.
//! - [`notify`]: `notify-keyspace-events` flags and the `__keyspace@`/`__keyevent@` messages.
//!
//! # Flow
//! Commands run under the keyspace lock, so PUBLISH calls are totally ordered. A publish
//! encodes the message once per protocol and appends the shared bytes to each receiver's
//! outbox, which never blocks: a receiver over its limit has its outbox closed and its
//! connection told to end. The receiving connection wakes, takes everything queued and writes it
//! in one write. A client's own pushes (it published to a channel it is subscribed to, or its
//! command raised a notification it listens to) are written right after that command's reply,
//! as Redis 7.4 does; pushes queued before a batch of commands are written before its replies.
//!
//! Each connection keeps its own [`Subscriptions`] (what to undo on UNSUBSCRIBE, RESET or
//! disconnect, and what RESP2's subscribed mode checks); the hub is the index publishers use.

pub mod hub;
pub mod notify;
pub mod outbox;

pub use hub::{Hub, Kind};
pub use notify::NotifyFlags;
pub use outbox::{Format, Outbox};

use crate::keyspace::KeyEvent;
use crate::server::Shared;
use bytes::Bytes;
use std::collections::HashMap;

/// A client's subscriptions of one kind, remembering the order they were made in.
#[derive(Debug, Default)]
pub struct NameSet {
    next: u64,
    names: HashMap<Bytes, u64>,
}

impl NameSet {
    /// Adds `name`; false if it was already there.
    pub fn insert(&mut self, name: Bytes) -> bool {
        if self.names.contains_key(&name) {
            return false;
        }
        self.next += 1;
        self.names.insert(name, self.next);
        true
    }

    /// Removes `name`; whether it was there.
    pub fn remove(&mut self, name: &[u8]) -> bool {
        self.names.remove(name).is_some()
    }

    /// How many names.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every name, oldest subscription first.
    pub fn in_order(&self) -> Vec<Bytes> {
        let mut all: Vec<(&Bytes, u64)> = self.names.iter().map(|(name, seq)| (name, *seq)).collect();
        all.sort_by_key(|(_, seq)| *seq);
        all.into_iter().map(|(name, _)| name.clone()).collect()
    }

    /// Removes and returns every name, oldest subscription first.
    pub fn drain_in_order(&mut self) -> Vec<Bytes> {
        let all = self.in_order();
        self.names.clear();
        all
    }
}

/// What one client is subscribed to.
#[derive(Debug, Default)]
pub struct Subscriptions {
    /// SUBSCRIBE channels.
    pub channels: NameSet,
    /// PSUBSCRIBE patterns.
    pub patterns: NameSet,
    /// SSUBSCRIBE shard channels.
    pub shard_channels: NameSet,
}

impl Subscriptions {
    /// The set for `kind`.
    pub fn set(&mut self, kind: Kind) -> &mut NameSet {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }

    /// The count (un)subscribe replies carry: channels plus patterns for the classic commands,
    /// shard channels for the shard ones, as in Redis.
    pub fn reply_count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Channel | Kind::Pattern => self.channels.len() + self.patterns.len(),
            Kind::Shard => self.shard_channels.len(),
        }
    }

    /// Whether the client has any subscription (RESP2 subscribed mode; CLIENT LIST flag `P`).
    pub fn is_active(&self) -> bool {
        !(self.channels.is_empty() && self.patterns.is_empty() && self.shard_channels.is_empty())
    }
}

/// Removes every subscription of client `id`, silently (disconnect and RESET).
pub fn unsubscribe_all(shared: &Shared, subscriptions: &mut Subscriptions, id: u64) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for name in subscriptions.set(kind).drain_in_order() {
            shared.pubsub.unsubscribe(kind, &name, id);
        }
    }
}

/// PUBLISH with the server's current `client-output-buffer-limit pubsub`.
pub fn publish(shared: &Shared, channel: &[u8], message: &[u8]) -> usize {
    let limit = shared.config.read().client_output_buffer_limit.pubsub;
    shared.pubsub.publish(channel, message, limit, &shared.stats.client_output_buffer_limit_disconnections)
}

/// SPUBLISH with the server's current `client-output-buffer-limit pubsub`.
pub fn spublish(shared: &Shared, channel: &[u8], message: &[u8]) -> usize {
    let limit = shared.config.read().client_output_buffer_limit.pubsub;
    shared.pubsub.spublish(channel, message, limit, &shared.stats.client_output_buffer_limit_disconnections)
}

/// Publishes the keyspace notifications `events` call for under `notify-keyspace-events`.
pub fn notify_events(shared: &Shared, events: &[KeyEvent]) {
    if events.is_empty() {
        return;
    }
    let (flags, limit) = {
        let config = shared.config.read();
        (config.notify_keyspace_events, config.client_output_buffer_limit.pubsub)
    };
    notify::publish_events(&shared.pubsub, flags, limit, &shared.stats.client_output_buffer_limit_disconnections, events);
}
