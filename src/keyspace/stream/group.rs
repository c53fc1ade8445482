//! Consumer groups: a group's read position, its pending entries list (PEL), its consumers.

use super::StreamId;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};

/// An entry delivered to a consumer and not yet acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The consumer that owns it.
    pub consumer: Bytes,
    /// When it was last delivered, in Unix ms.
    pub delivery_ms: u64,
    /// How many times it was delivered.
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consumer {
    /// When it last did anything (read, claim), in Unix ms (`seen-time`).
    pub seen_ms: u64,
    /// When it last read or claimed an entry (`active-time`); `None` if it never has.
    pub active_ms: Option<u64>,
    /// The IDs it owns in the group's PEL.
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    /// The last ID delivered with `>`.
    pub last_id: StreamId,
    /// How many entries the group has read (its logical position), when known.
    pub entries_read: Option<u64>,
    /// Every pending entry, by ID.
    pub pel: BTreeMap<StreamId, Pending>,
    /// Consumers by name (ordered, as Redis's radix tree orders them).
    pub consumers: BTreeMap<Bytes, Consumer>,
}

impl Group {
    /// A group positioned at `last_id`.
    pub fn new(last_id: StreamId, entries_read: Option<u64>) -> Group {
        Group { last_id, entries_read, ..Group::default() }
    }

    /// The consumer named `name`, created if missing. Returns it and whether it was created.
    pub fn consumer(&mut self, name: &Bytes, now_ms: u64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        if created {
            // Copied: argument bytes share the connection's read buffer.
            self.consumers.insert(Bytes::copy_from_slice(name), Consumer { seen_ms: now_ms, ..Consumer::default() });
        }
        let consumer = self.consumers.entry(name.clone()).or_default();
        (consumer, created)
    }

    /// The consumer's name as the group stores it (its own copy), so pending entries share it.
    fn stored_name(&self, name: &Bytes) -> Bytes {
        self.consumers.get_key_value(name).map_or_else(|| Bytes::copy_from_slice(name), |(k, _)| k.clone())
    }

    /// Records that `consumer` received `id` now: a new pending entry, or one moved to it.
    pub fn deliver(&mut self, id: StreamId, consumer: &Bytes, now_ms: u64) {
        let consumer = &self.stored_name(consumer);
        let previous = self.pel.insert(id, Pending { consumer: consumer.clone(), delivery_ms: now_ms, delivery_count: 1 });
        if let Some(previous) = previous {
            if let Some(owner) = self.consumers.get_mut(&previous.consumer) {
                owner.pel.remove(&id);
            }
        }
        if let Some(owner) = self.consumers.get_mut(consumer) {
            owner.pel.insert(id);
        }
    }

    /// Acknowledges `id`. Returns whether it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(pending) = self.pel.remove(&id) else { return false };
        if let Some(owner) = self.consumers.get_mut(&pending.consumer) {
            owner.pel.remove(&id);
        }
        true
    }

    /// Moves pending `id` to `consumer` (XCLAIM, XAUTOCLAIM).
    pub fn reassign(&mut self, id: StreamId, consumer: &Bytes) {
        let consumer = &self.stored_name(consumer);
        let Some(pending) = self.pel.get_mut(&id) else { return };
        if pending.consumer != consumer {
            let previous = std::mem::replace(&mut pending.consumer, consumer.clone());
            if let Some(owner) = self.consumers.get_mut(&previous) {
                owner.pel.remove(&id);
            }
        }
        if let Some(owner) = self.consumers.get_mut(consumer) {
            owner.pel.insert(id);
        }
    }

    /// Removes consumer `name`, dropping its pending entries. Returns how many it had, or
    /// `None` if there is no such consumer.
    pub fn remove_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let consumer = self.consumers.remove(name)?;
        for id in &consumer.pel {
            self.pel.remove(id);
        }
        Some(consumer.pel.len())
    }
}
