//! The shared keyspace: numbered databases of keys, each with a value and an optional deadline.
//!
//! Pure data operations: nothing here encodes a reply or touches a socket, so the RESP path,
//! the WebSocket gateway, blocking retries and persistence replay all reuse them.
//!
//! # Layout
//! Each [`Db`] keeps its keys ordered by a keyed 64-bit hash (an open-addressing table kept in
//! hash order, see `ordered.rs`). The order never changes as keys come and go or the table
//! grows, so a `SCAN` cursor is simply "the next hash to visit": every key present for the
//! whole scan is returned, with no rehashing to dodge.
//! Deadlines live beside the entries in a deadline-ordered index, so the active expiry cycle
//! visits exactly the keys that are due, in order, without sampling.

mod block;
mod db;
mod ordered;
pub mod expire;
pub mod hash;
pub mod list;
pub mod memory;
pub mod set;
pub mod stream;
pub mod string;
pub mod zset;
mod value;
mod varint;

pub use db::{Db, Entry, NoSuchKey, RenameOutcome, ScanPage, StreamChange};
pub use value::{StringValue, Value};

use bytes::Bytes;

/// An event raised by a write, for keyspace notifications (`notify-keyspace-events`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    /// The database the key lives in.
    pub db: usize,
    /// The notification class letter (`g`, `$`, `l`, `x`, `e`, ...).
    pub class: char,
    /// Redis's event name (`set`, `del`, `expired`, ...).
    pub event: &'static str,
    /// The key.
    pub key: Bytes,
}

/// All databases, plus the clock reading the current command runs at.
#[derive(Debug)]
pub struct Keyspace {
    dbs: Vec<Db>,
    now_ms: u64,
    /// Events raised since the last drain; the pub/sub hub publishes them after each command.
    events: Vec<KeyEvent>,
    /// Whether [`Keyspace::notify`] records events: false while `notify-keyspace-events`
    /// publishes nothing, so writes then skip copying their key into an event nobody reads
    /// (expirations are still collected, for the `expired_keys` statistic).
    notifications: bool,
    /// Databases handed out since the last [`Keyspace::collect_expired`], one bit each (bit 63
    /// stands for every database from 63 up), so collecting looks only at those.
    touched: u64,
    /// Clients blocked on keys (BLPOP, ...). Kept here so that blocking, the writes that
    /// signal keys ready, and serving the waiters all happen under the one keyspace lock.
    pub blocking: crate::blocking::Blocking,
    /// Durable streams' journal ([`crate::persist`]); `None` while durability is off.
    pub persist: Option<Box<crate::persist::journal::Journal>>,
}

impl Keyspace {
    /// A keyspace of `databases` empty databases.
    pub fn new(databases: usize) -> Self {
        Keyspace { dbs: (0..databases).map(|_| Db::new()).collect(), now_ms: unix_time_ms(), events: Vec::new(), notifications: true, touched: 0, blocking: Default::default(), persist: None }
    }

    /// How many databases there are.
    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    /// Database `index`. Callers validate indexes with [`Keyspace::db_count`] (SELECT does).
    pub fn db(&mut self, index: usize) -> &mut Db {
        self.mark_touched(index);
        let count = self.dbs.len();
        // SELECT is the only way to pick an index and it checks the range.
        self.dbs.get_mut(index).unwrap_or_else(|| unreachable_db(index, count))
    }

    /// Two distinct databases at once (`MOVE`, `COPY ... DB`).
    pub fn two_dbs(&mut self, a: usize, b: usize) -> Option<(&mut Db, &mut Db)> {
        if a == b || a >= self.dbs.len() || b >= self.dbs.len() {
            return None;
        }
        self.mark_touched(a);
        self.mark_touched(b);
        let (low, high) = (a.min(b), a.max(b));
        let (left, right) = self.dbs.split_at_mut(high);
        let low_db = left.get_mut(low)?;
        let high_db = right.first_mut()?;
        Some(if a < b { (low_db, high_db) } else { (high_db, low_db) })
    }

    /// Every database, for INFO keyspace, FLUSHALL and the expiry cycle.
    pub fn dbs_mut(&mut self) -> impl Iterator<Item = (usize, &mut Db)> {
        self.touched = u64::MAX;
        self.dbs.iter_mut().enumerate()
    }

    /// Every database, read-only.
    pub fn dbs(&self) -> impl Iterator<Item = (usize, &Db)> {
        self.dbs.iter().enumerate()
    }

    /// The time, in Unix milliseconds, that the current command runs at. Redis also reads the
    /// clock once per command, so a key cannot expire halfway through one.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Reads the clock; called before each command (or each EXEC) runs.
    pub fn refresh_clock(&mut self) {
        self.now_ms = unix_time_ms();
    }

    /// Sets the clock (tests of expiry use it instead of sleeping).
    pub fn set_clock(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
    }

    /// Records a keyspace event for the notification layer.
    /// Expirations found by lookups so far are recorded first, so they keep their place before
    /// the event of the command that found them (Redis: `expired`, then `keymiss` or `set`).
    pub fn notify(&mut self, db: usize, class: char, event: &'static str, key: &[u8]) {
        if !self.notifications {
            return;
        }
        self.collect_expired();
        self.events.push(KeyEvent { db, class, event, key: Bytes::copy_from_slice(key) });
    }

    /// Moves the keys the databases reclaimed as expired into the event list.
    fn collect_expired(&mut self) {
        let touched = std::mem::take(&mut self.touched);
        if touched == 0 {
            return;
        }
        let mut bits = touched;
        while bits != 0 {
            let bit = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let indexes = if bit == 63 { 63..self.dbs.len() } else { bit..bit + 1 };
            for index in indexes {
                let Some(db) = self.dbs.get_mut(index) else { break };
                if !db.has_expired_keys() {
                    continue;
                }
                for key in db.take_expired_keys() {
                    self.events.push(KeyEvent { db: index, class: 'x', event: "expired", key });
                }
            }
        }
    }

    fn mark_touched(&mut self, index: usize) {
        self.touched |= 1u64 << index.min(63);
    }

    /// Turns event recording on or off; the server keeps it in step with
    /// `notify-keyspace-events` (on exactly when the flags publish something).
    pub fn set_notifications(&mut self, on: bool) {
        self.notifications = on;
    }

    /// Signals that `key` in `db` was written in a way that may serve blocked clients (a
    /// push). Cheap when nobody waits on it; see [`crate::blocking`].
    pub fn signal_ready(&mut self, db: usize, key: &[u8]) {
        if self.blocking.is_empty() {
            return;
        }
        self.db(db).signal_ready(key);
    }

    /// Takes every `(db, key)` signalled ready since the last call.
    pub fn take_ready(&mut self) -> Vec<(usize, Bytes)> {
        let mut ready = Vec::new();
        if self.blocking.is_empty() {
            return ready;
        }
        for (index, db) in self.dbs.iter_mut().enumerate() {
            ready.extend(db.take_ready().into_iter().map(|key| (index, key)));
        }
        ready
    }

    /// Takes the events raised so far, including expirations found by lookups.
    pub fn drain_events(&mut self) -> Vec<KeyEvent> {
        self.collect_expired();
        std::mem::take(&mut self.events)
    }
}

#[cold]
fn unreachable_db(index: usize, count: usize) -> ! {
    // Reaching this is a bug in command code, never the effect of client input.
    #[allow(clippy::panic)]
    {
        panic!("database {index} out of range (0..{count})")
    }
}

/// The wall clock in Unix milliseconds.
pub fn unix_time_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
