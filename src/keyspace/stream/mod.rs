//! Streams: an append-only log of entries with IDs, plus consumer groups.
//!
//! # Layout
//! Entries live in [`Block`]s of up to 100 entries (or about 4 KiB), each packed into one byte
//! vector: IDs are stored as deltas from the block's first ID, and the field names of the
//! block's first entry are stored once and shared by every later entry with the same fields,
//! as Redis's listpacks do (the byte format is documented in [`block`]). The blocks sit in an
//! ordered index, `BTreeMap<StreamId, Block>` keyed by each block's first ID, so a range read
//! finds its first block in O(log n) and decodes only the blocks it returns entries from;
//! nothing ever copies the whole stream. Deleting an entry flags it in place; a block whose
//! entries are all deleted leaves the index. Trims drop whole blocks, and an exact trim flags
//! the remaining surplus at the front of the first block kept.
//!
//! Beside the entries a stream keeps Redis's metadata: the last ID generated (which never goes
//! down, even when entries are deleted), the largest ID ever deleted, and how many entries were
//! ever added; consumer groups use the last two to compute their `entries-read` and `lag`.
//!
//! Groups ([`Group`]) hold their last delivered ID, the pending entries list (every delivered,
//! unacknowledged ID with its owner, delivery time and count) and their consumers, each with
//! the set of IDs it owns. Everything here is a pure data operation; commands live in
//! `crate::cmd::stream`.
//!
//! # Cold history
//! A durable stream may keep only a bounded number of bytes of sealed blocks in memory: older
//! blocks are evicted to [`ColdRun`] stubs and read back on demand through a [`ColdStore`]
//! (see [`cold`] for the design). The `try_*` operations report a failed load as a
//! [`ColdError`]; their infallible twins log it and act as if the unreadable entries were
//! absent, and exist for callers that cannot reply with an error.

pub mod block;
pub mod cold;
pub mod group;
pub mod id;

pub use block::{Block, StreamEntry};
pub use cold::{ColdError, ColdRun, ColdStore, ColdTier, MemoryColdStore};
pub use group::{Consumer, Group, Pending};
pub use id::{parse_bound, AddId, IdError, StreamId};

use bytes::Bytes;
use std::collections::BTreeMap;

/// Why XADD refused an ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddError {
    /// `ERR The ID specified in XADD is equal or smaller than the target stream top item`.
    TooSmall,
    /// `ERR The stream has exhausted the last possible ID, unable to add more items`.
    Exhausted,
}

impl AddError {
    /// Redis's error text.
    pub fn message(self) -> &'static str {
        match self {
            AddError::TooSmall => "ERR The ID specified in XADD is equal or smaller than the target stream top item",
            AddError::Exhausted => "ERR The stream has exhausted the last possible ID, unable to add more items",
        }
    }
}

/// What a trim keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimStrategy {
    /// At most this many entries (`MAXLEN`).
    MaxLen(u64),
    /// No entry below this ID (`MINID`).
    MinId(StreamId),
}

/// A trim as XADD and XTRIM ask for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trim {
    /// What to keep.
    pub strategy: TrimStrategy,
    /// `~`: only drop whole blocks.
    pub approx: bool,
    /// The most entries to remove (approximate trims only); 0 for no limit.
    pub limit: u64,
}

/// A stream value.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    blocks: BTreeMap<StreamId, Block>,
    /// Evicted history, by first ID; every run lies below every resident block.
    cold: BTreeMap<StreamId, ColdRun>,
    /// Where evicted history is read back from; `None` for an in-memory stream.
    tier: Option<ColdTier>,
    /// Bytes of the resident blocks other than the tail (the last one), which are sealed.
    resident: usize,
    length: u64,
    last_id: StreamId,
    max_deleted_id: StreamId,
    entries_added: u64,
    /// Consumer groups by name (ordered, as Redis's radix tree orders them).
    pub groups: BTreeMap<Bytes, Group>,
}

impl Stream {
    /// An empty stream.
    pub fn new() -> Stream {
        Stream::default()
    }

    /// How many entries it holds (XLEN).
    pub fn len(&self) -> u64 {
        self.length
    }

    /// Whether it holds no entries.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The last ID generated.
    pub fn last_id(&self) -> StreamId {
        self.last_id
    }

    /// The largest ID ever deleted (`max-deleted-entry-id`).
    pub fn max_deleted_id(&self) -> StreamId {
        self.max_deleted_id
    }

    /// How many entries were ever added (`entries-added`).
    pub fn entries_added(&self) -> u64 {
        self.entries_added
    }

    /// How many blocks the index holds (`radix-tree-keys`); a cold run counts as one.
    pub fn block_count(&self) -> usize {
        self.blocks.len() + self.cold.len()
    }

    /// Approximate bytes used (MEMORY USAGE): resident blocks and cold stubs.
    pub fn memory(&self) -> usize {
        self.blocks.values().map(Block::bytes).sum::<usize>() + self.cold.values().map(ColdRun::bytes).sum::<usize>() + 128
    }

    /// Links the stream to a cold store: from now on, sealed blocks beyond the store's memory
    /// budget are evicted (oldest first) and read back from it on demand.
    pub fn set_cold_tier(&mut self, tier: ColdTier) {
        self.tier = Some(tier);
        self.evict_cold();
    }

    /// The cold store link, if the stream has one.
    pub fn cold_tier(&self) -> Option<&ColdTier> {
        self.tier.as_ref()
    }

    /// How many cold runs (evicted stretches) the stream has.
    pub fn cold_runs(&self) -> usize {
        self.cold.len()
    }

    /// Bytes of sealed blocks resident in memory.
    pub fn resident_bytes(&self) -> usize {
        self.resident
    }

    /// The first live entry's ID, or `0-0` if the stream is empty. Never loads.
    pub fn first_id(&self) -> StreamId {
        match self.cold.values().next() {
            Some(run) => run.head.id,
            None => self.blocks.values().find_map(|b| b.ids().next()).unwrap_or_default(),
        }
    }

    /// The first live entry. Never loads.
    pub fn first_entry(&self) -> Option<StreamEntry> {
        match self.cold.values().next() {
            Some(run) => Some(run.head.clone()),
            None => self.blocks.values().find_map(Block::first_live),
        }
    }

    /// The last live entry. Loads only if every resident entry was deleted.
    pub fn last_entry(&self) -> Option<StreamEntry> {
        self.range(StreamId::MIN, StreamId::MAX, Some(1), true).into_iter().next()
    }

    /// The ID XADD would give, or why it cannot.
    pub fn next_id(&self, spec: AddId, now_ms: u64) -> Result<StreamId, AddError> {
        if self.last_id == StreamId::MAX {
            return Err(AddError::Exhausted);
        }
        let last = self.last_id;
        match spec {
            AddId::Auto if now_ms > last.ms => Ok(StreamId::new(now_ms, 0)),
            AddId::Auto => last.next().ok_or(AddError::Exhausted),
            AddId::AutoSeq(ms) if ms > last.ms => Ok(StreamId::new(ms, 0)),
            AddId::AutoSeq(ms) if ms == last.ms && last.seq < u64::MAX => Ok(StreamId::new(ms, last.seq + 1)),
            AddId::AutoSeq(_) => Err(AddError::TooSmall),
            AddId::Explicit(id) if id > last => Ok(id),
            AddId::Explicit(_) => Err(AddError::TooSmall),
        }
    }

    /// Appends an entry (XADD). Returns its ID.
    pub fn add(&mut self, spec: AddId, fields: &[(Bytes, Bytes)], now_ms: u64) -> Result<StreamId, AddError> {
        let id = self.next_id(spec, now_ms)?;
        let fits = self.blocks.values().next_back().is_some_and(|b| b.has_room(fields));
        if !fits {
            if let Some(tail) = self.blocks.values_mut().next_back() {
                tail.seal();
                self.resident += tail.bytes();
            }
            self.blocks.insert(id, Block::new(id, fields));
            self.evict_cold();
        }
        if let Some(block) = self.blocks.values_mut().next_back() {
            block.push(id, fields);
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        Ok(id)
    }

    /// Removes the block keyed `key`, keeping `resident` the size of the non-tail blocks.
    fn remove_block(&mut self, key: StreamId) -> Option<Block> {
        let was_tail = self.blocks.keys().next_back() == Some(&key);
        let block = self.blocks.remove(&key)?;
        if !was_tail {
            self.resident = self.resident.saturating_sub(block.bytes());
        } else if let Some(new_tail) = self.blocks.values().next_back() {
            // The previous block is the tail again and may take more entries.
            self.resident = self.resident.saturating_sub(new_tail.bytes());
        }
        Some(block)
    }

    /// Evicts the oldest sealed blocks while the resident ones exceed the store's budget,
    /// as far as the store can already serve them. Does nothing without a cold tier.
    pub fn evict_cold(&mut self) {
        let Some(tier) = &self.tier else { return };
        let budget = usize::try_from(tier.store.memory_budget()).unwrap_or(usize::MAX);
        if self.resident <= budget {
            return;
        }
        let readable = tier.store.readable_through(&tier.key);
        while self.resident > budget && self.blocks.len() > 1 {
            let Some((&key, block)) = self.blocks.iter().next() else { break };
            if block.last() > readable {
                break;
            }
            let Some(block) = self.remove_block(key) else { break };
            self.push_cold(key, &block);
        }
    }

    /// Appends an evicted block to the cold runs, merging it into the last run if it fits.
    fn push_cold(&mut self, key: StreamId, block: &Block) {
        let Some(head) = block.first_live() else { return };
        if let Some(run) = self.cold.values_mut().next_back() {
            if run.total + u64::from(block.total()) <= cold::RUN_MAX_ENTRIES {
                run.last = block.last();
                run.total += u64::from(block.total());
                run.live += u64::from(block.live());
                run.deleted.extend(block.deleted_ids());
                return;
            }
        }
        let run = ColdRun {
            first: key,
            last: block.last(),
            total: u64::from(block.total()),
            live: u64::from(block.live()),
            floor: head.id,
            deleted: block.deleted_ids().filter(|id| *id > head.id).collect(),
            head,
        };
        self.cold.insert(key, run);
    }

    /// The cold tier, for an operation that found cold runs.
    fn tier(&self) -> Result<&ColdTier, ColdError> {
        self.tier.as_ref().ok_or_else(|| ColdError {
            key: Bytes::new(),
            first: self.first_id(),
            source: std::io::Error::other("stream has evicted history but no cold store"),
        })
    }

    /// The live entries with IDs in `start..=end`, at most `count`, newest first if `rev`.
    /// Decodes only the blocks that overlap the range, and loads only the cold runs it needs.
    pub fn try_range(&self, start: StreamId, end: StreamId, count: Option<usize>, rev: bool) -> Result<Vec<StreamEntry>, ColdError> {
        let limit = count.unwrap_or(usize::MAX);
        if start > end || limit == 0 {
            return Ok(Vec::new());
        }
        let cold_from = self.cold.range(..=start).next_back().map_or(start, |(k, _)| *k);
        let runs = self.cold.range(cold_from..=end).map(|(_, r)| r).filter(|r| r.last >= start);
        let from = self.blocks.range(..=start).next_back().map_or(start, |(k, _)| *k);
        let blocks = self.blocks.range(from..=end).map(|(_, b)| b);
        let mut out: Vec<StreamEntry>;
        if rev {
            out = blocks
                .rev()
                .flat_map(|b| {
                    let mut entries: Vec<StreamEntry> = b.range(start, end).collect();
                    entries.reverse();
                    entries
                })
                .take(limit)
                .collect();
            for run in runs.rev() {
                if out.len() >= limit {
                    break;
                }
                let loaded = run.load(self.tier()?, start, end)?;
                out.extend(loaded.into_iter().rev().take(limit - out.len()));
            }
        } else {
            out = Vec::new();
            for run in runs {
                if out.len() >= limit {
                    return Ok(out);
                }
                let loaded = run.load(self.tier()?, start, end)?;
                out.extend(loaded.into_iter().take(limit - out.len()));
            }
            let room = limit - out.len();
            out.extend(blocks.flat_map(|b| b.range(start, end)).take(room));
        }
        Ok(out)
    }

    /// [`Stream::try_range`], treating unreadable history as absent (and logging it).
    pub fn range(&self, start: StreamId, end: StreamId, count: Option<usize>, rev: bool) -> Vec<StreamEntry> {
        self.try_range(start, end, count, rev).unwrap_or_else(|e| {
            tracing::error!("{e}");
            Vec::new()
        })
    }

    /// The entry `id`, if it is live.
    pub fn try_get(&self, id: StreamId) -> Result<Option<StreamEntry>, ColdError> {
        Ok(self.try_range(id, id, Some(1), false)?.into_iter().next())
    }

    /// [`Stream::try_get`], treating unreadable history as absent.
    pub fn get(&self, id: StreamId) -> Option<StreamEntry> {
        self.range(id, id, Some(1), false).into_iter().next()
    }

    /// The cold run that covers `id`, if any.
    fn cold_run_at(&self, id: StreamId) -> Option<(StreamId, &ColdRun)> {
        self.cold.range(..=id).next_back().filter(|(_, r)| id <= r.last).map(|(k, r)| (*k, r))
    }

    /// Whether `id` is a live entry.
    pub fn try_contains(&self, id: StreamId) -> Result<bool, ColdError> {
        match self.cold_run_at(id) {
            Some((_, run)) if !run.is_live(id) => Ok(false),
            Some((_, run)) => Ok(!run.load(self.tier()?, id, id)?.is_empty()),
            None => Ok(self.blocks.range(..=id).next_back().is_some_and(|(_, b)| b.contains(id))),
        }
    }

    /// [`Stream::try_contains`], treating unreadable history as absent.
    pub fn contains(&self, id: StreamId) -> bool {
        self.try_contains(id).unwrap_or_else(|e| {
            tracing::error!("{e}");
            false
        })
    }

    /// Deletes `id` (XDEL). Returns whether it was there.
    pub fn try_delete(&mut self, id: StreamId) -> Result<bool, ColdError> {
        if let Some((key, run)) = self.cold_run_at(id) {
            if !run.is_live(id) {
                return Ok(false);
            }
            let tier = self.tier()?;
            if run.load(tier, id, id)?.is_empty() {
                return Ok(false);
            }
            let next_head = if run.head.id == id {
                match id.next() {
                    Some(after) => run.load(tier, after, run.last)?.into_iter().next(),
                    None => None,
                }
            } else {
                None
            };
            if let Some(run) = self.cold.get_mut(&key) {
                run.live -= 1;
                if let Some(head) = next_head {
                    run.floor = head.id;
                    run.deleted.retain(|d| *d > head.id);
                    run.head = head;
                } else {
                    run.deleted.insert(id);
                }
                if run.live == 0 {
                    self.cold.remove(&key);
                }
            }
        } else {
            let Some((&key, block)) = self.blocks.range_mut(..=id).next_back() else { return Ok(false) };
            if !block.delete(id) {
                return Ok(false);
            }
            if block.live() == 0 {
                self.remove_block(key);
            }
        }
        self.length -= 1;
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        Ok(true)
    }

    /// [`Stream::try_delete`], treating unreadable history as absent.
    pub fn delete(&mut self, id: StreamId) -> bool {
        self.try_delete(id).unwrap_or_else(|e| {
            tracing::error!("{e}");
            false
        })
    }

    /// Trims as XADD/XTRIM ask. Returns how many entries were removed. Whole cold runs go
    /// without a load; the one run a trim cuts through is loaded to find where to cut.
    pub fn try_trim(&mut self, trim: Trim) -> Result<u64, ColdError> {
        let mut removed = 0u64;
        while let Some((&key, run)) = self.cold.iter().next() {
            let live = run.live;
            let whole = match trim.strategy {
                TrimStrategy::MaxLen(max) => {
                    if self.length <= max {
                        return Ok(removed);
                    }
                    self.length - live >= max
                }
                TrimStrategy::MinId(min) => {
                    if run.head.id >= min {
                        return Ok(removed);
                    }
                    run.last < min
                }
            };
            if trim.limit != 0 && removed + live > trim.limit {
                return Ok(removed);
            }
            if whole {
                self.cold.remove(&key);
                self.length -= live;
                removed += live;
                continue;
            }
            if trim.approx {
                return Ok(removed);
            }
            let entries = run.load(self.tier()?, run.first, run.last)?;
            let cut = match trim.strategy {
                TrimStrategy::MaxLen(max) => usize::try_from(self.length - max).unwrap_or(usize::MAX).min(entries.len()),
                TrimStrategy::MinId(min) => entries.partition_point(|e| e.id < min),
            };
            let gone = match entries.into_iter().nth(cut) {
                Some(head) => {
                    let gone = cut as u64;
                    if let Some(run) = self.cold.get_mut(&key) {
                        run.live = run.live.saturating_sub(gone);
                        run.floor = head.id;
                        run.deleted.retain(|d| *d > head.id);
                        run.head = head;
                    }
                    gone
                }
                None => {
                    self.cold.remove(&key);
                    live
                }
            };
            self.length -= gone;
            return Ok(removed + gone);
        }
        Ok(self.trim_resident(trim, removed))
    }

    /// [`Stream::try_trim`], stopping at unreadable history.
    pub fn trim(&mut self, trim: Trim) -> u64 {
        self.try_trim(trim).unwrap_or_else(|e| {
            tracing::error!("{e}");
            0
        })
    }

    /// Trims the resident blocks, `removed` entries having gone already.
    fn trim_resident(&mut self, trim: Trim, mut removed: u64) -> u64 {
        while let Some((&key, block)) = self.blocks.iter_mut().next() {
            let live = u64::from(block.live());
            let whole = match trim.strategy {
                TrimStrategy::MaxLen(max) => {
                    if self.length <= max {
                        break;
                    }
                    self.length - live >= max
                }
                TrimStrategy::MinId(min) => {
                    if block.ids().next().is_none_or(|first| first >= min) {
                        break;
                    }
                    block.last() < min
                }
            };
            if trim.limit != 0 && removed + live > trim.limit {
                break;
            }
            if whole {
                self.remove_block(key);
                self.length -= live;
                removed += live;
                continue;
            }
            if trim.approx {
                break;
            }
            let gone = match trim.strategy {
                TrimStrategy::MaxLen(max) => block.delete_front_while(self.length - max, |_| true),
                TrimStrategy::MinId(min) => block.delete_front_while(u64::MAX, |id| id < min),
            };
            let empty = block.live() == 0;
            self.length -= gone;
            removed += gone;
            if empty {
                self.remove_block(key);
            }
            break;
        }
        removed
    }

    /// Sets the stream's metadata (XSETID). Checks are the caller's (see `cmd::stream`).
    pub fn set_id(&mut self, last_id: StreamId, entries_added: Option<u64>, max_deleted_id: Option<StreamId>) {
        self.last_id = last_id;
        if let Some(added) = entries_added {
            self.entries_added = added;
        }
        if let Some(max) = max_deleted_id {
            self.max_deleted_id = max;
        }
    }

    /// Whether an ID in `start..` (or `start..=end`) may have been deleted, which makes a
    /// group's `entries-read` counter unreliable there.
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id() > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id && self.max_deleted_id <= end
    }

    /// How many entries were added up to and including `id`, when that can be known.
    pub fn estimate_entries_read(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        if !id.is_zero() && id < self.max_deleted_id {
            // Deleted entries lie between `id` and the end: the count is unknown.
            return None;
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        let first = self.first_id();
        if self.max_deleted_id.is_zero() || self.max_deleted_id < first {
            if id < first {
                return Some(self.entries_added - self.length);
            }
            if id == first {
                return Some(self.entries_added - self.length + 1);
            }
        }
        None
    }

    /// A group's lag: entries added but not yet read by it, when that can be known.
    /// Like Redis, it goes negative when XSETID lowered `entries-added` below what the group
    /// has read.
    pub fn group_lag(&self, group: &Group) -> Option<i64> {
        if self.entries_added == 0 || self.length == 0 {
            return Some(0);
        }
        let first = self.first_id();
        if group.last_id < first && self.max_deleted_id < first {
            // Every entry left is ahead of the group.
            return Some(as_i64(self.length));
        }
        if let Some(read) = group.entries_read {
            if !self.range_has_tombstones(group.last_id, StreamId::MAX) {
                return Some(as_i64(self.entries_added).wrapping_sub(as_i64(read)));
            }
        }
        self.estimate_entries_read(group.last_id).map(|read| as_i64(self.entries_added).wrapping_sub(as_i64(read)))
    }

    /// Delivers to `consumer` of `group` up to `count` entries after the group's last ID
    /// (XREADGROUP `>`), advancing the group and, unless `noack`, adding them to its PEL.
    /// `Ok(None)` if there is no such group.
    pub fn read_group_new(&mut self, group: &[u8], consumer: &Bytes, count: Option<usize>, noack: bool, now_ms: u64) -> Result<Option<Vec<StreamEntry>>, ColdError> {
        let Some(g) = self.groups.get(group) else { return Ok(None) };
        let entries = match g.last_id.next() {
            Some(start) => self.try_range(start, StreamId::MAX, count, false)?,
            None => Vec::new(),
        };
        Ok(self.deliver_new(group, consumer, entries, noack, now_ms))
    }

    /// Advances `group` over `entries` (read after its last ID), for [`Stream::read_group_new`].
    fn deliver_new(&mut self, group: &[u8], consumer: &Bytes, entries: Vec<StreamEntry>, noack: bool, now_ms: u64) -> Option<Vec<StreamEntry>> {
        // Whether the group's counter can simply count on, judged from the ID the group was at
        // before each entry (Redis 7.4's rule), and the estimate otherwise. Both depend only on
        // the stream, so they are computed before the group is borrowed.
        let first = self.first_id();
        let mut before = self.groups.get(group)?.last_id;
        let mut known: Vec<(bool, Option<u64>)> = Vec::with_capacity(entries.len());
        for e in &entries {
            let countable = before >= first && !self.range_has_tombstones(before, StreamId::MAX);
            known.push((countable, self.estimate_entries_read(e.id)));
            before = e.id;
        }
        let g = self.groups.get_mut(group)?;
        for (entry, (countable, estimate)) in entries.iter().zip(known) {
            g.entries_read = match g.entries_read {
                Some(n) if countable => Some(n + 1),
                _ => estimate,
            };
            g.last_id = entry.id;
            if !noack {
                g.deliver(entry.id, consumer, now_ms);
            }
        }
        // Only deliveries that create pending entries make the consumer active (Redis).
        if !entries.is_empty() && !noack {
            if let Some(c) = g.consumers.get_mut(consumer) {
                c.active_ms = Some(now_ms);
            }
        }
        Some(entries)
    }

    /// Re-delivers `consumer`'s pending entries after `after` (XREADGROUP with an ID): each
    /// with its fields, or `None` if it was deleted since. Counts a delivery for live ones.
    /// `Ok(None)` if there is no such group.
    pub fn read_group_history(&mut self, group: &[u8], consumer: &Bytes, after: StreamId, count: Option<usize>, now_ms: u64) -> Result<Option<History>, ColdError> {
        let limit = count.unwrap_or(usize::MAX);
        let Some(g) = self.groups.get(group) else { return Ok(None) };
        let ids: Vec<StreamId> = match (g.consumers.get(consumer), after.next()) {
            (Some(c), Some(start)) => c.pel.range(start..).take(limit).copied().collect(),
            _ => Vec::new(),
        };
        let mut entries: Vec<(StreamId, Option<StreamEntry>)> = Vec::with_capacity(ids.len());
        for id in ids {
            entries.push((id, self.try_get(id)?));
        }
        let Some(g) = self.groups.get_mut(group) else { return Ok(None) };
        for (id, entry) in &entries {
            if entry.is_some() {
                if let Some(p) = g.pel.get_mut(id) {
                    p.delivery_ms = now_ms;
                    p.delivery_count += 1;
                }
            }
        }
        Ok(Some(entries))
    }
}

/// Pending entries re-read by XREADGROUP with an ID: each ID with its entry, `None` if deleted.
pub type History = Vec<(StreamId, Option<StreamEntry>)>;

/// A counter as Redis's signed `long long`.
fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn fields() -> Vec<(Bytes, Bytes)> {
        vec![(Bytes::from_static(b"f"), Bytes::from_static(b"v"))]
    }

    fn filled(n: u64) -> Stream {
        let mut s = Stream::new();
        for i in 1..=n {
            s.add(AddId::Explicit(StreamId::new(i, 0)), &fields(), 0).unwrap();
        }
        s
    }

    #[test]
    fn ranges_cross_block_boundaries_in_both_directions() {
        let s = filled(450);
        assert_eq!(s.block_count(), 5);
        let r = s.range(StreamId::new(95, 0), StreamId::new(205, 0), None, false);
        assert_eq!(r.len(), 111);
        assert_eq!(r[0].id, StreamId::new(95, 0));
        let r = s.range(StreamId::new(95, 0), StreamId::new(205, 0), Some(3), true);
        assert_eq!(r.iter().map(|e| e.id.ms).collect::<Vec<_>>(), vec![205, 204, 203]);
    }

    #[test]
    fn approximate_trims_drop_only_whole_blocks() {
        let mut s = filled(450);
        let removed = s.trim(Trim { strategy: TrimStrategy::MaxLen(120), approx: true, limit: 0 });
        assert_eq!(removed, 300);
        assert_eq!(s.len(), 150);
        let removed = s.trim(Trim { strategy: TrimStrategy::MaxLen(120), approx: false, limit: 0 });
        assert_eq!(removed, 30);
        assert_eq!(s.first_id(), StreamId::new(331, 0));
        let removed = s.trim(Trim { strategy: TrimStrategy::MinId(StreamId::new(401, 0)), approx: false, limit: 0 });
        assert_eq!(removed, 70);
        assert_eq!(s.first_id(), StreamId::new(401, 0));
    }

    #[test]
    fn deleting_every_entry_of_a_block_drops_it() {
        let mut s = filled(3);
        for i in 1..=3 {
            assert!(s.delete(StreamId::new(i, 0)));
        }
        assert_eq!(s.block_count(), 0);
        assert_eq!(s.max_deleted_id(), StreamId::new(3, 0));
        assert_eq!(s.next_id(AddId::Explicit(StreamId::new(3, 0)), 0), Err(AddError::TooSmall));
    }
}

#[cfg(test)]
mod cold_tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use std::sync::Arc;

    fn tiered(n: u64, budget: u64) -> (Stream, Arc<MemoryColdStore>) {
        let store = Arc::new(MemoryColdStore::new(budget));
        let mut s = Stream::new();
        s.set_cold_tier(ColdTier { store: store.clone(), key: Bytes::from_static(b"k") });
        for i in 1..=n {
            let fields = vec![(Bytes::from_static(b"f"), Bytes::from(format!("value-{i}")))];
            let id = s.add(AddId::Explicit(StreamId::new(i, 0)), &fields, 0).unwrap();
            store.append(b"k", StreamEntry { id, fields });
        }
        (s, store)
    }

    #[test]
    fn history_beyond_the_budget_is_evicted_and_read_back() {
        let (s, store) = tiered(20_000, 8192);
        assert!(s.resident_bytes() <= 8192, "resident {}", s.resident_bytes());
        assert!(s.cold_runs() >= 4);
        assert_eq!(s.len(), 20_000);
        let loads = store.loads();
        assert_eq!(s.first_entry().unwrap().fields[0].1, Bytes::from_static(b"value-1"));
        assert_eq!(s.first_id(), StreamId::new(1, 0));
        assert_eq!(store.loads(), loads, "first entry and XLEN must not load");
        let all = s.range(StreamId::MIN, StreamId::MAX, None, false);
        assert_eq!(all.len(), 20_000);
        assert!(all.iter().enumerate().all(|(i, e)| e.id == StreamId::new(i as u64 + 1, 0)));
        let rev = s.range(StreamId::new(10, 0), StreamId::new(5000, 0), Some(3), true);
        assert_eq!(rev.iter().map(|e| e.id.ms).collect::<Vec<_>>(), vec![5000, 4999, 4998]);
        assert!(store.loads() > loads);
    }

    #[test]
    fn deletes_and_trims_over_cold_history_stay_correct() {
        let (mut s, _store) = tiered(10_000, 0);
        assert!(s.delete(StreamId::new(1, 0)));
        assert!(!s.delete(StreamId::new(1, 0)));
        assert!(s.delete(StreamId::new(500, 0)));
        assert!(!s.delete(StreamId::new(500, 1)));
        assert_eq!(s.first_id(), StreamId::new(2, 0));
        assert!(s.get(StreamId::new(500, 0)).is_none());
        assert!(s.contains(StreamId::new(501, 0)));
        assert_eq!(s.len(), 9_998);
        assert_eq!(s.max_deleted_id(), StreamId::new(500, 0));
        let removed = s.trim(Trim { strategy: TrimStrategy::MinId(StreamId::new(1000, 0)), approx: false, limit: 0 });
        assert_eq!(removed, 997);
        assert_eq!(s.first_id(), StreamId::new(1000, 0));
        let removed = s.trim(Trim { strategy: TrimStrategy::MaxLen(5000), approx: false, limit: 0 });
        assert_eq!(removed, 4001);
        assert_eq!(s.first_entry().unwrap().id, StreamId::new(5001, 0));
        assert_eq!(s.range(StreamId::MIN, StreamId::MAX, None, false).len(), 5000);
    }

    #[test]
    fn a_failed_load_is_an_error_not_an_empty_range() {
        let (s, store) = tiered(5_000, 0);
        store.set_failing(true);
        assert!(s.try_range(StreamId::MIN, StreamId::MAX, None, false).is_err());
        assert!(s.try_get(StreamId::new(3, 0)).is_err());
        assert_eq!(s.try_range(StreamId::new(4999, 0), StreamId::MAX, None, false).unwrap().len(), 2);
        assert_eq!(s.first_id(), StreamId::new(1, 0));
    }
}

#[cfg(test)]
mod model_tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    //! The block store against a plain ordered map of the same entries.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Add { gap_ms: u64, seq: u64, fields: u8 },
        Delete(usize),
        TrimLen { max: u64, approx: bool },
        TrimMin(usize),
        Range { from: usize, to: usize, count: usize, rev: bool },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0u64..3, 0u64..3, 0u8..3).prop_map(|(gap_ms, seq, fields)| Op::Add { gap_ms, seq, fields }),
            2 => (0usize..400).prop_map(Op::Delete),
            1 => (0u64..300, any::<bool>()).prop_map(|(max, approx)| Op::TrimLen { max, approx }),
            1 => (0usize..400).prop_map(Op::TrimMin),
            2 => (0usize..400, 0usize..400, 0usize..30, any::<bool>()).prop_map(|(from, to, count, rev)| Op::Range { from, to, count, rev }),
        ]
    }

    fn fields_for(kind: u8, n: u64) -> Vec<(Bytes, Bytes)> {
        let value = Bytes::from(n.to_string());
        match kind {
            0 => vec![(Bytes::from_static(b"f"), value)],
            1 => vec![(Bytes::from_static(b"f"), value.clone()), (Bytes::from_static(b"g"), value)],
            _ => vec![(Bytes::from_static(b"other"), value)],
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn the_block_store_behaves_like_an_ordered_map(ops in proptest::collection::vec(op(), 1..400)) {
            check_against_model(ops, None)?;
        }

        #[test]
        fn a_tiered_stream_behaves_like_an_ordered_map(ops in proptest::collection::vec(op(), 1..400), budget in 0u64..3000) {
            check_against_model(ops, Some(budget))?;
        }
    }

    /// Runs `ops` on a stream (with a cold tier of `budget` bytes if given) and on a model.
    fn check_against_model(ops: Vec<Op>, budget: Option<u64>) -> Result<(), TestCaseError> {
            let mut stream = Stream::new();
            let store = std::sync::Arc::new(MemoryColdStore::new(budget.unwrap_or(0)));
            if budget.is_some() {
                stream.set_cold_tier(ColdTier { store: store.clone(), key: Bytes::from_static(b"s") });
            }
            let mut model: BTreeMap<StreamId, Vec<(Bytes, Bytes)>> = BTreeMap::new();
            let mut last = StreamId::MIN;
            let mut n = 0u64;
            let pick = |model: &BTreeMap<StreamId, Vec<(Bytes, Bytes)>>, i: usize| model.keys().nth(i % model.len().max(1)).copied();
            for op in ops {
                match op {
                    Op::Add { gap_ms, seq, fields } => {
                        n += 1;
                        let id = StreamId::new(last.ms + gap_ms, if gap_ms == 0 { last.seq + 1 + seq } else { seq });
                        let f = fields_for(fields, n);
                        prop_assert_eq!(stream.add(AddId::Explicit(id), &f, 0), Ok(id));
                        store.append(b"s", StreamEntry { id, fields: f.clone() });
                        model.insert(id, f);
                        last = id;
                    }
                    Op::Delete(i) => {
                        let id = pick(&model, i).unwrap_or(StreamId::new(1, 1));
                        prop_assert_eq!(stream.delete(id), model.remove(&id).is_some());
                    }
                    Op::TrimLen { max, approx } => {
                        let removed = stream.trim(Trim { strategy: TrimStrategy::MaxLen(max), approx, limit: 0 });
                        for _ in 0..removed {
                            model.pop_first();
                        }
                        if !approx {
                            prop_assert!(model.len() as u64 <= max);
                        }
                    }
                    Op::TrimMin(i) => {
                        let min = pick(&model, i).unwrap_or_default();
                        let removed = stream.trim(Trim { strategy: TrimStrategy::MinId(min), approx: false, limit: 0 });
                        let before = model.len();
                        model.retain(|id, _| *id >= min);
                        prop_assert_eq!(removed as usize, before - model.len());
                    }
                    Op::Range { from, to, count, rev } => {
                        let start = pick(&model, from).unwrap_or_default();
                        let end = pick(&model, to).unwrap_or(StreamId::MAX);
                        let got = stream.range(start, end, Some(count), rev);
                        let mut want: Vec<StreamEntry> = if start <= end {
                            model.range(start..=end).map(|(id, f)| StreamEntry { id: *id, fields: f.clone() }).collect()
                        } else {
                            Vec::new()
                        };
                        if rev {
                            want.reverse();
                        }
                        want.truncate(count);
                        prop_assert_eq!(got, want);
                    }
                }
                prop_assert_eq!(stream.len(), model.len() as u64);
                prop_assert_eq!(stream.first_id(), model.keys().next().copied().unwrap_or_default());
                prop_assert_eq!(stream.last_entry().map(|e| e.id), model.keys().next_back().copied());
                prop_assert_eq!(stream.first_entry().map(|e| e.id), model.keys().next().copied());
                if budget.is_none() {
                    prop_assert_eq!(stream.cold_runs(), 0);
                }
            }
            let all = stream.range(StreamId::MIN, StreamId::MAX, None, false);
            prop_assert_eq!(all.len(), model.len());
            Ok(())
    }
}
