//! Records built from a stream's state after a command changed it.
//!
//! Commands stay pure: they run their data operations, then hand the persist layer the typed
//! outcome (the IDs delivered, acknowledged, claimed...). These builders turn that outcome
//! plus the resulting state (delivery times and counts, group positions, consumer times) into
//! records, so a replay sets exactly what the command left.

use super::format::{PendingState, Record};
use crate::keyspace::stream::{Stream, StreamEntry, StreamId};
use bytes::Bytes;

/// The entry XADD appended.
pub fn entry_added(id: StreamId, fields: &[(Bytes, Bytes)]) -> Record {
    Record::EntryAdded { id, fields: fields.to_vec() }
}

/// A trim's outcome: every entry below the stream's first remaining one is gone.
pub fn trimmed(s: &Stream) -> Record {
    let min_kept = if s.is_empty() { s.last_id().next().unwrap_or(StreamId::MAX) } else { s.first_id() };
    Record::Trimmed { min_kept }
}

/// The stream's counters.
pub fn meta(s: &Stream) -> Record {
    Record::StreamMeta { last_id: s.last_id(), entries_added: s.entries_added(), max_deleted_id: s.max_deleted_id() }
}

/// A group's position, if the group exists.
pub fn group_position(s: &Stream, group: &[u8]) -> Option<Record> {
    let g = s.groups.get(group)?;
    Some(Record::GroupSetId { group: Bytes::copy_from_slice(group), last_id: g.last_id, entries_read: g.entries_read })
}

/// A consumer's times, if it exists.
pub fn consumer_seen(s: &Stream, group: &[u8], consumer: &[u8]) -> Option<Record> {
    let c = s.groups.get(group)?.consumers.get(consumer)?;
    Some(Record::ConsumerSeen { group: Bytes::copy_from_slice(group), consumer: Bytes::copy_from_slice(consumer), seen_ms: c.seen_ms, active_ms: c.active_ms })
}

/// The pending state of `ids` in `group` (IDs not pending are left out).
pub fn pending(s: &Stream, group: &[u8], ids: &[StreamId]) -> Vec<PendingState> {
    let Some(g) = s.groups.get(group) else { return Vec::new() };
    ids.iter().filter_map(|id| g.pel.get(id).map(|p| PendingState { id: *id, delivery_ms: p.delivery_ms, delivery_count: p.delivery_count })).collect()
}

/// XREADGROUP's outcome: the group's position, the consumer's times, and the pending state
/// of the entries delivered (`ids`; empty for NOACK or when nothing was read).
pub fn delivered(s: &Stream, group: &[u8], consumer: &[u8], ids: &[StreamId]) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::with_capacity(3);
    out.extend(group_position(s, group));
    out.extend(consumer_seen(s, group, consumer));
    let entries = pending(s, group, ids);
    if !entries.is_empty() {
        out.push(Record::Delivered { group: Bytes::copy_from_slice(group), consumer: Bytes::copy_from_slice(consumer), entries });
    }
    out
}

/// XCLAIM's and XAUTOCLAIM's outcome.
pub fn claimed(s: &Stream, group: &[u8], consumer: &[u8], justid: bool, ids: &[StreamId], dropped: Vec<StreamId>) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::with_capacity(3);
    out.extend(group_position(s, group));
    out.extend(consumer_seen(s, group, consumer));
    let entries = pending(s, group, ids);
    if !entries.is_empty() || !dropped.is_empty() {
        out.push(Record::Claimed { group: Bytes::copy_from_slice(group), consumer: Bytes::copy_from_slice(consumer), justid, entries, dropped });
    }
    out
}

/// The state every segment after the first starts with: counters and every group.
pub fn state_snapshot(s: &Stream) -> Vec<Record> {
    let mut out = vec![meta(s)];
    for (name, g) in &s.groups {
        out.push(Record::GroupCreated { group: name.clone(), last_id: g.last_id, entries_read: g.entries_read });
        for (cname, c) in &g.consumers {
            out.push(Record::ConsumerSeen { group: name.clone(), consumer: cname.clone(), seen_ms: c.seen_ms, active_ms: c.active_ms });
            let entries: Vec<PendingState> = c.pel.iter().filter_map(|id| g.pel.get(id).map(|p| PendingState { id: *id, delivery_ms: p.delivery_ms, delivery_count: p.delivery_count })).collect();
            if !entries.is_empty() {
                out.push(Record::Delivered { group: name.clone(), consumer: cname.clone(), entries });
            }
        }
    }
    out
}

/// A whole stream, for its first segment when it becomes durable.
pub fn full_snapshot(db: usize, key: &[u8], s: &Stream) -> Vec<Record> {
    let mut out = vec![Record::StreamCreated { db: u32::try_from(db).unwrap_or(u32::MAX), key: Bytes::copy_from_slice(key) }];
    out.extend(s.range(StreamId::MIN, StreamId::MAX, None, false).into_iter().map(|StreamEntry { id, fields }| Record::EntryAdded { id, fields }));
    out.extend(state_snapshot(s));
    out
}

/// XGROUP CREATE's outcome on an existing stream.
pub fn group_created(s: &Stream, group: &[u8]) -> Vec<Record> {
    s.groups.get(group).map(|g| Record::GroupCreated { group: Bytes::copy_from_slice(group), last_id: g.last_id, entries_read: g.entries_read }).into_iter().collect()
}
