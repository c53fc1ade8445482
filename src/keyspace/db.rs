//! One numbered database: entries ordered by key hash, a deadline index, and WATCH signals.

use super::Value;
use bytes::Bytes;
use super::ordered::OrderedTable;
use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// A key's value and metadata.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// When the key expires, in Unix milliseconds; `None` for a persistent key.
    pub expires_at: Option<u64>,
    /// When the key was last read or written, in Unix milliseconds (`OBJECT IDLETIME`).
    pub last_access_ms: u64,
}

/// The longest key name stored inline in its node, without an allocation of its own.
const INLINE_KEY: usize = 22;

/// A key's name as the index stores it: inline up to [`INLINE_KEY`] bytes (most keys), else in
/// one exact-size allocation. 24 bytes either way, against `Bytes`' 32-byte header plus a
/// separate allocation.
#[derive(Debug, Clone)]
enum KeyName {
    Inline { len: u8, bytes: [u8; INLINE_KEY] },
    Heap(Box<[u8]>),
}

impl KeyName {
    fn new(key: &[u8]) -> KeyName {
        let mut bytes = [0u8; INLINE_KEY];
        match bytes.get_mut(..key.len()) {
            Some(prefix) => {
                prefix.copy_from_slice(key);
                KeyName::Inline { len: key.len() as u8, bytes }
            }
            None => KeyName::Heap(key.into()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            KeyName::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            KeyName::Heap(bytes) => bytes,
        }
    }

    fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
}

/// What a key costs in the index (see [`super::memory`]): its node, its name's own block when
/// too long to sit inline, and its 8-byte slot at a load of 2/3.
pub fn index_bytes(key: &[u8]) -> usize {
    let name = if key.len() > INLINE_KEY { super::memory::heap_block(key.len()) } else { 0 };
    std::mem::size_of::<Node>() + name + 12
}

/// One key in the index: its name and its entry, in one arena node.
#[derive(Debug)]
struct Node {
    key: KeyName,
    entry: Entry,
}

impl Node {
    fn is(key: &[u8]) -> impl Fn(&Node) -> bool + '_ {
        move |node| node.key.as_bytes() == key
    }
}

/// One page of a `SCAN`.
#[derive(Debug)]
pub struct ScanPage {
    /// The cursor for the next call; 0 when the scan is complete.
    pub cursor: u64,
    /// The keys visited on this page (before any MATCH or TYPE filter).
    pub keys: Vec<Bytes>,
}

/// What [`Db::rename`] did with a source key that exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenameOutcome {
    /// The key now lives under its new name (replacing any key there unless `only_if_absent`).
    Renamed,
    /// Source and destination are the same name: nothing changed.
    SameKey,
    /// `only_if_absent` was asked and the destination exists: nothing changed.
    TargetExists,
}

/// [`Db::rename`] found no live source key (`ERR no such key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoSuchKey;

/// How many random probes [`Db::random_key`] makes before reclaiming every due key instead.
const RANDOM_KEY_PROBES: usize = 100;

/// A SCAN page visits at most this many keys per key asked for, so a stretch of expired keys
/// cannot make one call run long (Redis bounds its scan the same way).
const SCAN_VISITS_PER_KEY: usize = 10;

/// The process-wide hash seed: random per process so clients cannot aim collisions.
///
/// foldhash's quality variant rather than std's SipHash: every keyspace access hashes its key,
/// and SipHash was ~10% of the instructions of a pipelined SET/GET/INCR run; foldhash is keyed
/// the same way (a random per-process seed) and mixes its output fully, which the segment index
/// needs since it takes the hash's top bits.
fn hasher() -> &'static foldhash::quality::RandomState {
    static HASHER: OnceLock<foldhash::quality::RandomState> = OnceLock::new();
    HASHER.get_or_init(foldhash::quality::RandomState::default)
}

/// The hash that orders a key in its database and serves as its SCAN position.
pub fn key_hash(key: &[u8]) -> u64 {
    hasher().hash_one(key)
}

/// A shared flag a client sets up with WATCH; writers to a watched key raise it.
pub type WatchFlag = Arc<AtomicBool>;

/// One database.
#[derive(Debug, Default)]
pub struct Db {
    /// Keys by hash, in hash order (see [`super::ordered`] for why ordered).
    index: OrderedTable<Node>,
    /// `(deadline ms, key)` for every key with a TTL.
    deadlines: BTreeSet<(u64, Bytes)>,
    /// Clients watching each key, raised by [`Db::touch`].
    watchers: HashMap<Bytes, Vec<WatchFlag>>,
    /// Keys removed because they expired, awaiting their `expired` notification.
    expired: Vec<Bytes>,
    /// How many blocked clients wait on each key ([`crate::blocking`] keeps it up to date).
    blocking_interest: HashMap<Bytes, usize>,
    /// Keys with waiters that were written since the waiters were last served.
    ready: Vec<Bytes>,
    /// Stream values removed and inserted, for the persist layer (`None`: not tracking).
    stream_changes: Option<Vec<StreamChange>>,
}

/// A stream value leaving or entering a database, noted while durability is on so that
/// `crate::persist` can log key-level changes (DEL, expiry, RENAME, FLUSH*, ...) without a hook
/// in every command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamChange {
    /// A stream value was removed from this key (deleted, expired, overwritten, moved away).
    Removed(Bytes),
    /// A stream value was stored under this key (created, renamed, moved, restored).
    Inserted(Bytes),
    /// Every key was removed (FLUSHDB, FLUSHALL).
    Flushed,
    /// The deadline of the stream at this key was set or cleared (EXPIRE, PERSIST, ...).
    Expiry(Bytes),
}

impl Db {
    /// Starts or stops noting stream values removed and inserted ([`StreamChange`]).
    pub fn track_streams(&mut self, on: bool) {
        self.stream_changes = on.then(Vec::new);
    }

    /// Whether stream changes were noted since the last [`Db::take_stream_changes`].
    pub fn has_stream_changes(&self) -> bool {
        self.stream_changes.as_ref().is_some_and(|c| !c.is_empty())
    }

    /// Takes the stream changes noted so far, in order.
    pub fn take_stream_changes(&mut self) -> Vec<StreamChange> {
        self.stream_changes.as_mut().map(std::mem::take).unwrap_or_default()
    }

    fn note_stream(&mut self, change: StreamChange) {
        if let Some(changes) = &mut self.stream_changes {
            changes.push(change);
        }
    }

    /// An empty database.
    pub fn new() -> Self {
        Db::default()
    }

    /// How many keys the database holds (including expired keys not yet reclaimed, as Redis's
    /// DBSIZE does).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the database holds no keys.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// How many keys have a TTL.
    pub fn expires_count(&self) -> usize {
        self.deadlines.len()
    }

    fn raw_get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.index.get_mut(key_hash(key), Node::is(key)).map(|node| &mut node.entry)
    }

    /// Removes `key` if its deadline has passed. Returns whether it did.
    fn expire_if_due(&mut self, key: &[u8], now_ms: u64) -> bool {
        // Most databases hold no key with a TTL: skip the lookup entirely.
        if self.deadlines.is_empty() {
            return false;
        }
        let due = self.index.get(key_hash(key), Node::is(key)).is_some_and(|node| node.entry.expires_at.is_some_and(|t| t <= now_ms));
        if due {
            self.remove(key);
            self.expired.push(Bytes::copy_from_slice(key));
        }
        due
    }

    /// Looks up a live key for reading or in-place writing, reclaiming it first if expired.
    /// A caller that changes the value must call [`Db::touch`] afterwards.
    pub fn get_mut(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        self.expire_if_due(key, now_ms);
        let entry = self.raw_get_mut(key)?;
        entry.last_access_ms = now_ms;
        Some(entry)
    }

    /// Looks up a live key's value (see [`Db::get_mut`]).
    pub fn get_value(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Value> {
        self.get_mut(key, now_ms).map(|e| &mut e.value)
    }

    /// Looks up a live key without counting as an access (TTL, TYPE, OBJECT), reclaiming it
    /// first if expired.
    pub fn peek(&mut self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        self.expire_if_due(key, now_ms);
        self.raw_get_mut(key).map(|entry| &*entry)
    }

    /// Whether a live key exists, without counting as an access.
    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.expire_if_due(key, now_ms);
        self.raw_get_mut(key).is_some()
    }

    /// Stores `value` under `key` with the given deadline, replacing any old value.
    ///
    /// An old value whose deadline has passed is reclaimed first (raising its `expired` event,
    /// as Redis's write lookup does), so callers need not look the key up beforehand. Overwriting
    /// a live key replaces its entry in place without copying the key again.
    pub fn insert(&mut self, key: &[u8], value: Value, expires_at: Option<u64>, now_ms: u64) {
        self.expire_if_due(key, now_ms);
        let entry = Entry { value, expires_at, last_access_ms: now_ms };
        if self.stream_changes.is_some() {
            // Durable streams note stream values coming and going: the general path does that.
            self.insert_entry(Bytes::copy_from_slice(key), entry);
            return;
        }
        let hash = key_hash(key);
        let Some(slot) = self.index.get_mut(hash, Node::is(key)).map(|node| &mut node.entry) else {
            self.insert_new(hash, Bytes::copy_from_slice(key), entry);
            return;
        };
        let old = std::mem::replace(slot, entry);
        if old.expires_at != expires_at {
            if let Some(deadline) = old.expires_at {
                self.deadlines.remove(&(deadline, Bytes::copy_from_slice(key)));
            }
            if let Some(deadline) = expires_at {
                self.deadlines.insert((deadline, Bytes::copy_from_slice(key)));
            }
        }
        self.touch(key);
        self.signal_ready(key);
    }

    /// Stores a whole entry (RENAME, MOVE and COPY keep the deadline and metadata).
    pub fn insert_entry(&mut self, key: Bytes, entry: Entry) {
        if self.stream_changes.is_some() && matches!(entry.value, Value::Stream(_)) {
            let replaces_stream = matches!(self.raw_get_mut(&key).map(|e| &e.value), Some(Value::Stream(_)));
            if replaces_stream {
                self.note_stream(StreamChange::Removed(key.clone()));
            }
            self.note_stream(StreamChange::Inserted(key.clone()));
        } else if self.stream_changes.is_some() && matches!(self.raw_get_mut(&key).map(|e| &e.value), Some(Value::Stream(_))) {
            self.note_stream(StreamChange::Removed(key.clone()));
        }
        let hash = key_hash(&key);
        // Overwriting a key replaces the entry in place: one index walk.
        if let Some(slot) = self.index.get_mut(hash, Node::is(&key)).map(|node| &mut node.entry) {
            let new_deadline = entry.expires_at;
            let old = std::mem::replace(slot, entry);
            if let Some(deadline) = new_deadline {
                self.deadlines.insert((deadline, key.clone()));
            }
            self.touch(&key);
            self.signal_ready(&key);
            if let Some(deadline) = old.expires_at {
                if new_deadline != Some(deadline) {
                    self.deadlines.remove(&(deadline, key));
                }
            }
            return;
        }
        self.insert_new(hash, key, entry);
    }

    /// Adds a key known to be absent under its `hash`.
    fn insert_new(&mut self, hash: u64, key: Bytes, entry: Entry) {
        if let Some(deadline) = entry.expires_at {
            self.deadlines.insert((deadline, key.clone()));
        }
        self.touch(&key);
        self.signal_ready(&key);
        self.index.insert(hash, Node { key: KeyName::new(&key), entry });
    }

    /// Replaces the value of `key`, keeping its TTL (SET KEEPTTL, SETRANGE on a new key, ...).
    pub fn insert_keep_ttl(&mut self, key: &[u8], value: Value, now_ms: u64) {
        let expires_at = self.get_mut(key, now_ms).and_then(|e| e.expires_at);
        self.insert(key, value, expires_at, now_ms);
    }

    /// Removes `key`, live or expired. Returns its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let hash = key_hash(key);
        let Node { entry, .. } = self.index.remove(hash, Node::is(key))?;
        if matches!(entry.value, Value::Stream(_)) {
            self.note_stream(StreamChange::Removed(Bytes::copy_from_slice(key)));
        }
        if let Some(deadline) = entry.expires_at {
            self.deadlines.remove(&(deadline, Bytes::copy_from_slice(key)));
        }
        self.touch(key);
        // Waiters that must learn the key is gone (XREADGROUP) are woken by this signal.
        self.signal_ready(key);
        Some(entry)
    }

    /// Sets or clears the deadline of a live key. Returns false if the key does not exist.
    pub fn set_expiry(&mut self, key: &[u8], expires_at: Option<u64>, now_ms: u64) -> bool {
        let Some(entry) = self.get_mut(key, now_ms) else { return false };
        let old = std::mem::replace(&mut entry.expires_at, expires_at);
        let owned = Bytes::copy_from_slice(key);
        if let Some(old) = old {
            self.deadlines.remove(&(old, owned.clone()));
        }
        if let Some(new) = expires_at {
            self.deadlines.insert((new, owned.clone()));
        }
        if self.stream_changes.is_some() && matches!(self.raw_get_mut(key).map(|e| &e.value), Some(Value::Stream(_))) {
            self.note_stream(StreamChange::Expiry(owned));
        }
        self.touch(key);
        true
    }

    /// Renames a live key, keeping its value, deadline and access time (RENAME, RENAMENX).
    /// An existing destination is replaced unless `only_if_absent`. Fails with [`NoSuchKey`]
    /// when the source does not exist, even when both names are the same, as Redis does.
    pub fn rename(&mut self, from: &[u8], to: &[u8], only_if_absent: bool, now_ms: u64) -> Result<RenameOutcome, NoSuchKey> {
        if !self.contains(from, now_ms) {
            return Err(NoSuchKey);
        }
        if from == to {
            return Ok(RenameOutcome::SameKey);
        }
        // Looked up even when it will be replaced, so an expired target is reported expired.
        if self.contains(to, now_ms) && only_if_absent {
            return Ok(RenameOutcome::TargetExists);
        }
        let entry = self.remove(from).ok_or(NoSuchKey)?;
        self.insert_entry(Bytes::copy_from_slice(to), entry);
        Ok(RenameOutcome::Renamed)
    }

    /// The earliest deadline of any key, expired or not.
    pub fn next_deadline(&self) -> Option<u64> {
        self.deadlines.first().map(|(deadline, _)| *deadline)
    }

    /// Signals that `key` changed: raises the flag of every client WATCHing it.
    pub fn touch(&mut self, key: &[u8]) {
        if self.watchers.is_empty() {
            return;
        }
        if let Some(flags) = self.watchers.get(key) {
            for flag in flags {
                flag.store(true, Ordering::Release);
            }
        }
    }

    /// Signals that `key` may now serve blocked clients (a push, or a new value under the
    /// key). Costs nothing when nobody waits on the key; waiters are served after the command.
    pub fn signal_ready(&mut self, key: &[u8]) {
        if self.blocking_interest.is_empty() || !self.blocking_interest.contains_key(key) {
            return;
        }
        if !self.ready.iter().any(|k| k.as_ref() == key) {
            self.ready.push(Bytes::copy_from_slice(key));
        }
    }

    /// Records one more client blocked on `key`.
    pub fn add_blocking_interest(&mut self, key: &Bytes) {
        *self.blocking_interest.entry(key.clone()).or_insert(0) += 1;
    }

    /// Records one client fewer blocked on `key`.
    pub fn remove_blocking_interest(&mut self, key: &[u8]) {
        if let Some(count) = self.blocking_interest.get_mut(key) {
            *count -= 1;
            if *count == 0 {
                self.blocking_interest.remove(key);
            }
        }
    }

    /// Takes the keys signalled ready since the last call.
    pub fn take_ready(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.ready)
    }

    /// Registers a WATCH on `key`.
    pub fn watch(&mut self, key: &[u8], flag: &WatchFlag) {
        let flags = self.watchers.entry(Bytes::copy_from_slice(key)).or_default();
        if !flags.iter().any(|f| Arc::ptr_eq(f, flag)) {
            flags.push(flag.clone());
        }
    }

    /// Removes a WATCH registered by [`Db::watch`].
    pub fn unwatch(&mut self, key: &[u8], flag: &WatchFlag) {
        if let Some(flags) = self.watchers.get_mut(key) {
            flags.retain(|f| !Arc::ptr_eq(f, flag));
            if flags.is_empty() {
                self.watchers.remove(key);
            }
        }
    }

    /// Removes every key, raising WATCH flags on the watched keys that existed.
    pub fn flush(&mut self) {
        let watched: Vec<Bytes> = self.watchers.keys().cloned().collect();
        for key in watched {
            if self.raw_get_mut(&key).is_some() {
                self.touch(&key);
            }
        }
        self.index.clear();
        self.deadlines.clear();
        if let Some(changes) = &mut self.stream_changes {
            changes.clear();
            changes.push(StreamChange::Flushed);
        }
    }

    /// One page of a SCAN from `cursor`: live keys from at least `count` positions when there
    /// are that many left (keys sharing a position, the hash's top 32 bits, are returned together, so a page may hold
    /// more), visiting at most `10 × count` positions so expired stretches stay cheap; a page may
    /// then hold fewer keys, or none, with a non-zero cursor. Expired keys met are reclaimed.
    ///
    /// Because positions are key hashes in a fixed order, a key present from the first call to
    /// the last is returned at least once however many keys come and go in between.
    pub fn scan(&mut self, cursor: u64, count: usize, now_ms: u64) -> ScanPage {
        let want = count.max(1);
        let max_visits = want.saturating_mul(SCAN_VISITS_PER_KEY);
        let mut keys = Vec::new();
        let mut expired = Vec::new();
        let mut visited = 0;
        let next = self.index.scan(cursor, |node| {
            if node.entry.expires_at.is_some_and(|t| t <= now_ms) {
                expired.push(node.key.to_bytes());
            } else {
                keys.push(node.key.to_bytes());
            }
            visited += 1;
            keys.len() < want && visited < max_visits
        });
        for key in expired {
            self.expire_if_due(&key, now_ms);
        }
        // Cursor 0 means "start" and "done"; `OrderedTable::scan` returns 0 only at the end.
        ScanPage { cursor: next, keys }
    }

    /// Every live key, in SCAN order (KEYS).
    pub fn keys(&mut self, now_ms: u64) -> Vec<Bytes> {
        self.scan(0, usize::MAX, now_ms).keys
    }

    /// Every live key matching the glob `pattern` (KEYS). Like Redis, expired keys are skipped
    /// but left for the expiry cycle, so a read-only KEYS does not write.
    pub fn keys_matching(&self, pattern: &[u8], now_ms: u64) -> Vec<Bytes> {
        let everything = pattern == b"*";
        self.index
            .iter()
            .map(|(_, node)| node)
            .filter(|node| node.entry.expires_at.is_none_or(|t| t > now_ms))
            .filter(|node| everything || crate::glob::matches(pattern, node.key.as_bytes()))
            .map(|node| node.key.to_bytes())
            .collect()
    }

    /// Some key, expired or not, near a random position; `None` if the database is empty.
    fn any_key_near_random_position(&self) -> Option<Bytes> {
        let start: u64 = rand::random();
        self.index.range_from(start).next().or_else(|| self.index.iter().next()).map(|(_, node)| node.key.to_bytes())
    }

    /// A random live key, or `None` if the database holds none.
    ///
    /// Expired keys found on the way are reclaimed. After a bounded number of unlucky probes
    /// every due key is reclaimed at once (work the expiry cycle would do anyway), so a
    /// database of mostly expired keys still yields a live key when it has one.
    pub fn random_key(&mut self, now_ms: u64) -> Option<Bytes> {
        for _ in 0..RANDOM_KEY_PROBES {
            let key = self.any_key_near_random_position()?;
            if !self.expire_if_due(&key, now_ms) {
                return Some(key);
            }
        }
        self.expire_due(now_ms, usize::MAX);
        self.any_key_near_random_position()
    }

    /// Removes up to `budget` keys whose deadline has passed, oldest deadline first. Returns
    /// how many it removed; the caller repeats while it keeps hitting its budget.
    pub fn expire_due(&mut self, now_ms: u64, budget: usize) -> usize {
        let mut removed = 0;
        while removed < budget {
            let Some((deadline, key)) = self.deadlines.first().cloned() else { break };
            if deadline > now_ms {
                break;
            }
            self.remove(&key);
            self.expired.push(key);
            removed += 1;
        }
        removed
    }

    /// Whether keys were reclaimed by expiry since the last [`Db::take_expired_keys`].
    pub fn has_expired_keys(&self) -> bool {
        !self.expired.is_empty()
    }

    /// Keys removed by expiry since the last call, for their `expired` notifications.
    pub fn take_expired_keys(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.expired)
    }

    /// The average remaining TTL of keys with one, in ms (INFO keyspace's `avg_ttl`).
    pub fn avg_ttl_ms(&self, now_ms: u64) -> u64 {
        if self.deadlines.is_empty() {
            return 0;
        }
        let total: u128 = self.deadlines.iter().map(|(t, _)| u128::from(t.saturating_sub(now_ms))).sum();
        u64::try_from(total / self.deadlines.len() as u128).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::keyspace::StringValue;

    fn string(s: &str) -> Value {
        Value::String(StringValue::from_bytes(s.as_bytes()))
    }

    #[test]
    fn scan_returns_every_key_present_throughout_despite_churn() {
        let mut db = Db::new();
        for i in 0..1000 {
            db.insert(format!("stable:{i}").as_bytes(), string("v"), None, 0);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            let page = db.scan(cursor, 10, 0);
            seen.extend(page.keys);
            // Churn between pages: add and remove other keys.
            for j in 0..20 {
                db.insert(format!("churn:{round}:{j}").as_bytes(), string("x"), None, 0);
                if round > 0 {
                    db.remove(format!("churn:{}:{j}", round - 1).as_bytes());
                }
            }
            round += 1;
            cursor = page.cursor;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..1000 {
            assert!(seen.contains(format!("stable:{i}").as_bytes()), "missed stable:{i}");
        }
    }

    #[test]
    fn expired_keys_vanish_on_access_and_are_reported() {
        let mut db = Db::new();
        db.insert(b"k", string("v"), Some(100), 0);
        assert!(db.get_mut(b"k", 99).is_some());
        assert!(db.get_mut(b"k", 100).is_none());
        assert_eq!(db.len(), 0);
        assert_eq!(db.take_expired_keys(), vec![Bytes::from("k")]);
    }

    #[test]
    fn expire_due_takes_deadlines_in_order_within_budget() {
        let mut db = Db::new();
        for i in 0..10u64 {
            db.insert(format!("k{i}").as_bytes(), string("v"), Some(10 + i), 0);
        }
        assert_eq!(db.expire_due(15, 3), 3);
        assert_eq!(db.expire_due(15, 100), 3);
        assert_eq!(db.len(), 4);
        assert_eq!(db.expires_count(), 4);
    }

    #[test]
    fn watch_flags_rise_on_writes_to_the_key_only() {
        let mut db = Db::new();
        let flag: WatchFlag = Arc::new(AtomicBool::new(false));
        db.watch(b"a", &flag);
        db.insert(b"b", string("1"), None, 0);
        assert!(!flag.load(Ordering::Acquire));
        db.insert(b"a", string("1"), None, 0);
        assert!(flag.load(Ordering::Acquire));
    }

    #[test]
    fn peek_reads_without_refreshing_the_access_time() {
        let mut db = Db::new();
        db.insert(b"k", string("v"), None, 10);
        assert_eq!(db.peek(b"k", 50).map(|e| e.last_access_ms), Some(10));
        assert_eq!(db.get_mut(b"k", 60).map(|e| e.last_access_ms), Some(60));
        assert_eq!(db.peek(b"k", 70).map(|e| e.last_access_ms), Some(60));
    }

    #[test]
    fn peek_reclaims_an_expired_key() {
        let mut db = Db::new();
        db.insert(b"k", string("v"), Some(100), 0);
        assert!(db.peek(b"k", 100).is_none());
        assert_eq!(db.len(), 0);
        assert_eq!(db.expires_count(), 0);
        assert_eq!(db.take_expired_keys(), vec![Bytes::from("k")]);
    }

    #[test]
    fn rename_moves_value_and_deadline_and_replaces_the_target() {
        let mut db = Db::new();
        db.insert(b"a", string("1"), Some(500), 0);
        db.insert(b"b", string("2"), Some(900), 0);
        assert_eq!(db.rename(b"a", b"b", false, 0), Ok(RenameOutcome::Renamed));
        assert!(!db.contains(b"a", 0));
        assert_eq!(db.peek(b"b", 0).and_then(|e| e.expires_at), Some(500));
        assert_eq!(db.len(), 1);
        assert_eq!(db.expires_count(), 1);
        assert_eq!(db.next_deadline(), Some(500));
    }

    #[test]
    fn rename_reports_missing_source_same_key_and_existing_target() {
        let mut db = Db::new();
        assert_eq!(db.rename(b"a", b"a", false, 0), Err(NoSuchKey));
        db.insert(b"a", string("1"), None, 0);
        db.insert(b"b", string("2"), None, 0);
        assert_eq!(db.rename(b"a", b"a", true, 0), Ok(RenameOutcome::SameKey));
        assert_eq!(db.rename(b"a", b"b", true, 0), Ok(RenameOutcome::TargetExists));
        assert!(db.contains(b"a", 0));
        db.insert(b"c", string("3"), Some(5), 0);
        assert_eq!(db.rename(b"a", b"c", true, 10), Ok(RenameOutcome::Renamed), "an expired target counts as absent");
        assert_eq!(db.take_expired_keys(), vec![Bytes::from("c")]);
        db.insert(b"d", string("4"), Some(5), 0);
        assert_eq!(db.rename(b"c", b"d", false, 10), Ok(RenameOutcome::Renamed));
        assert_eq!(db.take_expired_keys(), vec![Bytes::from("d")], "a replaced target that had expired is reported");
    }

    #[test]
    fn scan_pages_are_bounded_when_most_keys_expired() {
        let mut db = Db::new();
        for i in 0..1000 {
            db.insert(format!("dead:{i}").as_bytes(), string("v"), Some(5), 0);
        }
        db.insert(b"alive", string("v"), None, 0);
        let mut cursor = 0;
        let mut found = Vec::new();
        let mut pages = 0;
        loop {
            let page = db.scan(cursor, 1, 10);
            assert!(page.keys.len() <= 1);
            found.extend(page.keys);
            pages += 1;
            cursor = page.cursor;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(found, vec![Bytes::from("alive")]);
        assert!(pages >= 1001 / SCAN_VISITS_PER_KEY, "each page visited at most {SCAN_VISITS_PER_KEY} positions");
        assert_eq!(db.len(), 1, "the scan reclaimed the expired keys it met");
    }

    #[test]
    fn random_key_finds_the_live_key_among_many_expired_ones() {
        let mut db = Db::new();
        for i in 0..5000 {
            db.insert(format!("dead:{i}").as_bytes(), string("v"), Some(5), 0);
        }
        db.insert(b"alive", string("v"), None, 0);
        assert_eq!(db.random_key(10), Some(Bytes::from("alive")));
        db.remove(b"alive");
        assert_eq!(db.random_key(10), None);
    }

    #[test]
    fn keys_matching_skips_expired_keys_and_applies_the_pattern() {
        let mut db = Db::new();
        db.insert(b"user:1", string("v"), None, 0);
        db.insert(b"user:2", string("v"), Some(5), 0);
        db.insert(b"item:1", string("v"), None, 0);
        assert_eq!(db.keys_matching(b"user:*", 10), vec![Bytes::from("user:1")]);
        let mut all = db.keys_matching(b"*", 10);
        all.sort();
        assert_eq!(all, vec![Bytes::from("item:1"), Bytes::from("user:1")]);
        assert_eq!(db.len(), 3, "KEYS leaves expired keys to the expiry cycle");
    }
}
