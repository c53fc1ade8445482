//! Durable streams: append-only segment files per stream, a writer with a sync policy, and
//! recovery on start.
//!
//! The on-disk format is specified byte by byte in `protocol/segments.md` and summarised in
//! [`format`]: magic, version, little-endian integers, a CRC-32 per record, record type
//! numbers never reused.
//!
//! # How a write becomes durable
//! 1. A stream command runs its data operation as usual, then calls [`record`] with a builder
//!    that turns the typed outcome into [`Record`]s ([`hooks`]). Key-level changes (DEL,
//!    UNLINK, expiry, FLUSHDB/FLUSHALL, RENAME, MOVE, RESTORE, overwrites) need no hook: the
//!    databases note every stream value removed or inserted ([`crate::keyspace::StreamChange`])
//!    and [`collect`] turns those into "stream deleted" records and snapshots after each
//!    command.
//! 2. The [`journal::Journal`] (in the keyspace, under its lock) numbers the records and
//!    encodes them straight into the stream's segment buffer. A connection batch starts with
//!    [`begin`]; at its end [`ticket`] writes every touched stream's buffer into its segment
//!    file (one `write` per stream per batch) and hands the dirty files to the fsync thread
//!    ([`writer`]). Outside a batch (expiry, the WebSocket gateway) records are written at once.
//! 3. The connection releases the keyspace lock and waits on its [`Ticket`] before writing its
//!    replies: under `always` until the fsync thread synced the batch's records (one fsync
//!    covers every batch written meanwhile); under `everysec` and `no` not at all, the records
//!    are already written and the thread syncs them once a second (or never).
//!
//! Which streams are durable: those whose key matches `durable-streams` when they are created
//! (or renamed, restored, moved onto a matching key). A policy change applies to streams
//! created afterwards; streams already durable stay durable until their key is deleted.
//!
//! # Layout
//! - [`format`]: the segment header and the records (encode, decode, CRC-32).
//! - [`io`]: file I/O behind the [`io::Storage`] trait: the real file system, and an in-memory
//!   store that simulates crashes, torn writes and corruption for tests.
//! - [`segment`]: where segments live, appending and rolling, and the reader API
//!   ([`segment::SegmentReader`]) that lists segments with their ID ranges and reads entries.
//! - [`tier`]: the settings of tiering and retention, and the cold store that serves a durable
//!   stream's evicted history from its segments.
//! - [`retention`]: age- and size-based retention by whole sealed segments.
//! - [`hooks`]: records built from a command's outcome. [`journal`]: which streams are durable,
//!   writes, rolls, snapshots. [`writer`]: the fsync thread (group commit) and the file
//!   operations it does off the request path.
//! - [`recovery`]: [`recovery::apply`] (one record onto a stream) and [`recovery::recover`].

pub mod format;
pub mod hooks;
pub mod io;
pub mod journal;
pub mod recovery;
pub mod retention;
pub mod segment;
pub mod tier;
pub mod writer;

pub use format::{PendingState, Record, SegmentHeader};
pub use io::{FaultStorage, FsStorage, Storage};
pub use recovery::RecoveryReport;
pub use segment::{SegmentInfo, SegmentReader, SegmentWriter};
pub use writer::Ticket;

use crate::keyspace::stream::{Stream, StreamId};
use crate::keyspace::{Keyspace, StreamChange, Value};
use bytes::Bytes;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tracing::{info, warn};

/// Which streams are durable (`durable-streams`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DurablePolicy {
    /// None: Herald stays purely in memory (`no`, the default).
    #[default]
    No,
    /// Every stream (`yes` or `all`).
    All,
    /// Streams whose key matches one of these glob patterns.
    Patterns(Vec<String>),
}

impl DurablePolicy {
    /// Parses `no`, `yes`/`all`, or glob patterns separated by spaces or commas.
    pub fn parse(text: &str) -> Result<DurablePolicy, String> {
        let words: Vec<&str> = text.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        match words.as_slice() {
            [] => Err("argument must be 'no', 'yes', 'all' or key patterns".into()),
            [one] if one.eq_ignore_ascii_case("no") => Ok(DurablePolicy::No),
            [one] if one.eq_ignore_ascii_case("yes") || one.eq_ignore_ascii_case("all") => Ok(DurablePolicy::All),
            _ => Ok(DurablePolicy::Patterns(words.iter().map(|w| w.to_string()).collect())),
        }
    }

    /// Whether a stream at `key` is durable under this policy.
    pub fn matches(&self, key: &[u8]) -> bool {
        match self {
            DurablePolicy::No => false,
            DurablePolicy::All => true,
            DurablePolicy::Patterns(patterns) => patterns.iter().any(|p| crate::glob::matches(p.as_bytes(), key)),
        }
    }
}

impl fmt::Display for DurablePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurablePolicy::No => f.write_str("no"),
            DurablePolicy::All => f.write_str("yes"),
            DurablePolicy::Patterns(p) => f.write_str(&p.join(" ")),
        }
    }
}

/// When records reach the disk (`stream-fsync`, also accepted as `appendfsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum FsyncPolicy {
    /// Before the reply (group commit).
    Always = 0,
    /// Once a second in the background (the default, as Redis's).
    #[default]
    Everysec = 1,
    /// When the OS decides.
    No = 2,
}

impl FsyncPolicy {
    /// Parses `always`, `everysec` or `no`.
    pub fn parse(text: &str) -> Result<FsyncPolicy, String> {
        match text.to_ascii_lowercase().as_str() {
            "always" => Ok(FsyncPolicy::Always),
            "everysec" => Ok(FsyncPolicy::Everysec),
            "no" => Ok(FsyncPolicy::No),
            _ => Err("argument(s) must be one of the following: always, everysec, no".into()),
        }
    }

    pub(crate) fn from_u8(n: u8) -> FsyncPolicy {
        match n {
            0 => FsyncPolicy::Always,
            2 => FsyncPolicy::No,
            _ => FsyncPolicy::Everysec,
        }
    }
}

impl fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::Everysec => "everysec",
            FsyncPolicy::No => "no",
        })
    }
}

/// The settings the persist layer runs with (from [`crate::Config`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Which streams are durable.
    pub policy: DurablePolicy,
    /// The sync policy.
    pub fsync: FsyncPolicy,
    /// Roll segments at this many bytes.
    pub segment_size: u64,
}

impl Settings {
    /// The persist settings of a configuration.
    pub fn of(config: &crate::Config) -> Settings {
        Settings { policy: config.durable_streams.clone(), fsync: config.stream_fsync, segment_size: config.stream_segment_size.max(1) }
    }
}

/// Starts durability on `keyspace`: recovers every stream under `root` into it, then starts
/// the writer thread. Returns what recovery found. Does nothing if already started. Recovered
/// streams stay whole in memory; see [`start_tiered`].
pub fn start(keyspace: &mut Keyspace, settings: Settings, storage: Arc<dyn Storage>, root: PathBuf) -> std::io::Result<RecoveryReport> {
    start_tiered(keyspace, settings, storage, root, None)
}

/// [`start`] with tiering (see [`tier`]) when `tiering` is given: each stream's cold tier is
/// attached before its replay starts, so recovery evicts written history past the memory
/// budget as it goes and its peak memory stays bounded like the steady state's.
pub fn start_tiered(keyspace: &mut Keyspace, settings: Settings, storage: Arc<dyn Storage>, root: PathBuf, tiering: Option<Arc<tier::TierSettings>>) -> std::io::Result<RecoveryReport> {
    let prepared = prepare(settings, storage, root, tiering)?;
    let report = prepared.report.clone();
    install(keyspace, prepared);
    Ok(report)
}

/// Durable streams recovered from disk and a writer ready for them, not yet in a keyspace:
/// made by [`prepare`] without the keyspace lock, put in place by [`install`].
#[derive(Debug)]
pub struct Prepared {
    journal: journal::Journal,
    recovered: Vec<recovery::RecoveredStream>,
    /// What recovery found.
    pub report: RecoveryReport,
}

/// Recovers every stream under `root` and starts the writer thread, without touching a
/// keyspace (so the server can answer `-LOADING` meanwhile).
pub fn prepare(settings: Settings, storage: Arc<dyn Storage>, root: PathBuf, tiering: Option<Arc<tier::TierSettings>>) -> std::io::Result<Prepared> {
    storage.create_dir_all(&root.join(segment::STREAMS_DIR))?;
    let shared = Arc::new(writer::WriterShared::new(settings.fsync));
    let factory = tiering.as_ref().map(|tier_settings| {
        let (storage, root, tier_settings, writer) = (storage.clone(), root.clone(), tier_settings.clone(), shared.clone());
        move |handle: u64| {
            let writer = writer.clone();
            let progress: tier::WrittenSeq = Arc::new(move || writer.progress().written);
            Arc::new(tier::SegmentColdStore::new(storage.clone(), segment::stream_dir(&root, handle), tier_settings.clone(), progress))
        }
    });
    let factory_ref = factory.as_ref().map(|f| f as recovery::ColdStoreFactory<'_>);
    let (recovered, report) = recovery::recover_tiered(storage.as_ref(), &root, factory_ref)?;
    shared.stats.bytes_on_disk.store(report.bytes, Ordering::Relaxed);
    shared.stats.segments.store(report.segments, Ordering::Relaxed);
    let mut files = std::collections::HashMap::new();
    for r in &recovered {
        files.insert(r.handle, SegmentWriter::reopen(storage.clone(), segment::stream_dir(&root, r.handle), &r.active.0)?);
    }
    let writer = writer::Writer::new(shared.clone(), storage.clone());
    let thread = std::thread::Builder::new().name("herald-fsync".into()).spawn(move || writer.run())?;
    let mut journal = journal::Journal::new(shared, thread, settings, report.clone(), storage.clone(), root.clone(), files);
    journal.tiering = tiering.map(|settings| journal::Tiering { storage, root: root.clone(), settings });
    info!(
        "durable streams: recovered {} streams ({} entries, {} records, {} segments, {} bytes) from {} in {:.3}s; {} torn records truncated",
        report.streams,
        report.entries,
        report.records,
        report.segments,
        report.bytes,
        root.display(),
        report.elapsed.as_secs_f64(),
        report.torn_records_truncated
    );
    Ok(Prepared { journal, recovered, report })
}

/// Puts recovered streams into `keyspace` and turns durability on. If durability is already
/// on, the prepared writer is stopped and nothing changes.
pub fn install(keyspace: &mut Keyspace, prepared: Prepared) {
    let Prepared { mut journal, recovered, .. } = prepared;
    if keyspace.persist.is_some() {
        journal.writer.stop();
        return;
    }
    let now = keyspace.now_ms();
    let dbs = keyspace.db_count();
    for mut rec in recovered {
        let db = rec.db as usize;
        if db >= dbs {
            warn!("durable streams: stream in database {db} ignored: only {dbs} databases are configured");
            continue;
        }
        journal.adopt(db, &rec);
        if rec.stream.cold_tier().is_none() {
            if let Some(tier) = journal.cold_tier(db, &rec.key, rec.stream.last_id(), true) {
                rec.stream.set_cold_tier(tier);
            }
        }
        // A deadline already past is honoured by the next access or expiry cycle, which logs
        // the deletion as if the key had expired while the server ran.
        keyspace.db(db).insert(&rec.key, Value::Stream(Box::new(rec.stream)), rec.expires_at, now);
    }
    for (_, db) in keyspace.dbs_mut() {
        db.track_streams(true);
    }
    keyspace.persist = Some(Box::new(journal));
}

/// The recovery a server runs at start (on its own thread, see [`recovery_job`]).
#[derive(Debug)]
pub struct RecoveryJob {
    settings: Settings,
    root: PathBuf,
    tiering: Arc<tier::TierSettings>,
}

impl RecoveryJob {
    /// Recovers the streams (see [`prepare`]); put them in place with [`install`].
    pub fn run(self) -> std::io::Result<Prepared> {
        prepare(self.settings, Arc::new(FsStorage), self.root, Some(self.tiering))
    }
}

/// The recovery to run at start if the configuration turns durability on (`None` if not).
/// Checks now that the data directory can be created, so a bad `dir` fails the start.
pub fn recovery_job(config: &crate::Config) -> std::io::Result<Option<RecoveryJob>> {
    if config.durable_streams == DurablePolicy::No {
        return Ok(None);
    }
    let root = PathBuf::from(&config.dir);
    FsStorage.create_dir_all(&root.join(segment::STREAMS_DIR))?;
    Ok(Some(RecoveryJob { settings: Settings::of(config), root, tiering: config.tiering.clone() }))
}

/// Starts durability from a configuration (`dir`, `durable-streams`, ...) on the real file
/// system, if the policy is not `no`.
pub fn start_from_config(keyspace: &mut Keyspace, config: &crate::Config) -> std::io::Result<Option<RecoveryReport>> {
    if config.durable_streams == DurablePolicy::No {
        return Ok(None);
    }
    let storage: Arc<dyn Storage> = Arc::new(FsStorage);
    let report = start_tiered(keyspace, Settings::of(config), storage, PathBuf::from(&config.dir), Some(config.tiering.clone()))?;
    Ok(Some(report))
}

/// Turns tiering on (see [`tier`]): every durable stream, recovered ones now and new ones as
/// they become durable, keeps only `stream-memory-budget` bytes of sealed history resident
/// and reads older history back from its segments.
pub fn set_tiering(keyspace: &mut Keyspace, tiering: journal::Tiering) {
    let Some(mut journal) = keyspace.persist.take() else { return };
    journal.tiering = Some(tiering);
    let now = keyspace.now_ms();
    for (index, db) in keyspace.dbs_mut() {
        for key in journal.durable_keys(index) {
            if let Some(Value::Stream(stream)) = db.get_value(&key, now) {
                if stream.cold_tier().is_none() {
                    if let Some(tier) = journal.cold_tier(index, &key, stream.last_id(), true) {
                        stream.set_cold_tier(tier);
                    }
                }
            }
        }
    }
    keyspace.persist = Some(journal);
}

/// Applies changed settings (CONFIG SET): the policy, the sync policy, the segment size;
/// starts durability if it was off and the policy now names streams.
pub fn configure(keyspace: &mut Keyspace, config: &crate::Config) -> Result<(), String> {
    let settings = Settings::of(config);
    match keyspace.persist.as_mut() {
        Some(journal) => {
            journal.policy = settings.policy;
            journal.segment_size = settings.segment_size;
            journal.writer.set_policy(settings.fsync);
            Ok(())
        }
        None => start_from_config(keyspace, config).map(|_| ()).map_err(|e| format!("cannot start durable streams in '{}': {e}", config.dir)),
    }
}

/// Stops durability: every record is written and synced, the fsync thread exits. Takes the
/// keyspace lock only briefly; waits for the fsync thread without it.
pub fn stop(keyspace: &parking_lot::Mutex<Keyspace>) {
    let journal = {
        let mut ks = keyspace.lock();
        collect(&mut ks);
        if let Some(journal) = ks.persist.as_mut() {
            journal.flush();
        }
        for (_, db) in ks.dbs_mut() {
            db.track_streams(false);
        }
        ks.persist.take()
    };
    if let Some(mut journal) = journal {
        journal.writer.stop();
        if let Some(thread) = journal.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Whether durability is on.
pub fn active(keyspace: &Keyspace) -> bool {
    keyspace.persist.is_some()
}

/// Logs what a command did to stream `key` (after it did it): `build` turns the stream's
/// new state and the command's outcome into records. Costs one branch when durability is off
/// or the stream is not durable.
pub fn record(keyspace: &mut Keyspace, db: usize, key: &[u8], build: impl FnOnce(&Stream) -> Vec<Record>) {
    log_with(keyspace, db, key, |journal, stream| {
        let records = build(stream);
        if !records.is_empty() {
            journal.log(db, key, stream, &records);
        }
    });
}

/// XADD's [`record`]: the entry `id` with `fields` (and a trim record if `trimmed`), encoded
/// straight from the borrowed fields into the segment buffer.
pub fn record_entry(keyspace: &mut Keyspace, db: usize, key: &[u8], id: StreamId, fields: &[(Bytes, Bytes)], trimmed: bool) {
    log_with(keyspace, db, key, |journal, stream| journal.log_entry(db, key, stream, id, fields, trimmed));
}

/// Runs `log` with the journal and durable stream `key`, after snapshotting streams inserted
/// earlier (if that snapshot was this stream's, it already holds the change), then applies
/// retention.
fn log_with(keyspace: &mut Keyspace, db: usize, key: &[u8], log: impl FnOnce(&mut journal::Journal, &Stream)) {
    if keyspace.persist.is_none() {
        return;
    }
    let snapshotted = collect(keyspace);
    if snapshotted.iter().any(|(d, k)| *d == db && k.as_ref() == key) {
        return;
    }
    let Some(mut journal) = keyspace.persist.take() else { return };
    if journal.is_durable(db, key) {
        let now = keyspace.now_ms();
        if let Some(Value::Stream(stream)) = keyspace.db(db).peek(key, now).map(|e| &e.value) {
            log(&mut journal, stream);
        }
        apply_retention(keyspace, &mut journal, db, key, now);
    }
    keyspace.persist = Some(journal);
}

/// Applies retention to durable stream `key` if a segment rolled: an exact MINID trim past the
/// sealed segments retention drops, logged like XTRIM's, which deletes those segments.
fn apply_retention(keyspace: &mut Keyspace, journal: &mut journal::Journal, db: usize, key: &[u8], now: u64) {
    let Some(min_kept) = journal.retention_cut(db, key, now) else { return };
    let Some(Value::Stream(stream)) = keyspace.db(db).get_value(key, now) else { return };
    let trim = crate::keyspace::stream::Trim { strategy: crate::keyspace::stream::TrimStrategy::MinId(min_kept), approx: false, limit: 0 };
    match stream.try_trim(trim) {
        Ok(0) => {}
        Ok(removed) => {
            info!("durable streams: retention removed {removed} entries below {min_kept} from '{}'", String::from_utf8_lossy(key));
            let record = hooks::trimmed(stream);
            journal.log(db, key, stream, &[record]);
        }
        Err(e) => warn!("durable streams: retention of '{}' stopped: {e}", String::from_utf8_lossy(key)),
    }
}

/// Turns the databases' notes of stream values removed and inserted into "stream deleted"
/// records and snapshots. Runs after every command and before every [`record`]. Returns the
/// streams it snapshotted.
pub fn collect(keyspace: &mut Keyspace) -> Vec<(usize, Bytes)> {
    // The common case, checked without `dbs_mut` (which would mark every database touched
    // for the expiry notifications that follow each command).
    if keyspace.persist.is_none() || !keyspace.dbs().any(|(_, db)| db.has_stream_changes()) {
        return Vec::new();
    }
    let Some(mut journal) = keyspace.persist.take() else { return Vec::new() };
    let mut snapshotted = Vec::new();
    let now = keyspace.now_ms();
    for (index, db) in keyspace.dbs_mut() {
        if !db.has_stream_changes() {
            continue;
        }
        let mut inserted: Vec<Bytes> = Vec::new();
        for change in db.take_stream_changes() {
            match change {
                StreamChange::Removed(key) => journal.drop_stream(index, &key),
                StreamChange::Inserted(key) => {
                    if !inserted.contains(&key) {
                        inserted.push(key);
                    }
                }
                StreamChange::Flushed => {
                    journal.drop_db(index);
                    inserted.clear();
                }
                StreamChange::Expiry(key) => {
                    // A stream not durable yet (or no longer there) is snapshotted with its
                    // deadline, or has nothing to log.
                    if journal.is_durable(index, &key) {
                        if let Some(entry) = db.peek(&key, now) {
                            if let Value::Stream(stream) = &entry.value {
                                journal.set_expiry(index, &key, stream, entry.expires_at);
                            }
                        }
                    }
                }
            }
        }
        for key in inserted {
            if journal.is_durable(index, &key) || !journal.policy.matches(&key) {
                continue;
            }
            if let Some((Value::Stream(stream), expires_at)) = db.peek(&key, now).map(|e| (&e.value, e.expires_at)) {
                journal.make_durable(index, &key, stream, expires_at);
                let last = stream.last_id();
                if let (Some(tier), Some(Value::Stream(stream))) = (journal.cold_tier(index, &key, last, false), db.get_value(&key, now)) {
                    stream.set_cold_tier(tier);
                }
                snapshotted.push((index, key));
            }
        }
    }
    keyspace.persist = Some(journal);
    snapshotted
}

/// The sequence number of the last record logged (0 when durability is off).
pub fn seq(keyspace: &Keyspace) -> u64 {
    keyspace.persist.as_ref().map_or(0, |j| j.seq)
}

/// A connection batch starts: records logged until [`ticket`] are written together at its
/// end. Returns the sequence number to pass to [`ticket`] (see [`seq`]).
pub fn begin(keyspace: &mut Keyspace) -> u64 {
    keyspace.persist.as_mut().map_or(0, |j| {
        j.begin();
        j.seq
    })
}

/// Ends a batch that started at sequence `since` ([`begin`] or [`seq`]): writes what it
/// logged and returns what it must wait for before replying, if it logged anything. Call
/// under the keyspace lock; wait after releasing it.
pub fn ticket(keyspace: &mut Keyspace, since: u64) -> Option<Ticket> {
    collect(keyspace);
    let journal = keyspace.persist.as_mut()?;
    journal.flush();
    (journal.seq > since).then(|| Ticket { seq: journal.seq, writer: journal.writer.clone() })
}

/// INFO `persistence` fields for durable streams.
pub fn info_fields(keyspace: &Keyspace) -> Vec<(&'static str, String)> {
    let Some(journal) = keyspace.persist.as_ref() else {
        return vec![("durable_streams_enabled", "0".into())];
    };
    let stats = &journal.writer.stats;
    let fsyncs = stats.fsyncs.load(Ordering::Relaxed);
    let total = stats.fsync_total_us.load(Ordering::Relaxed);
    let report = &journal.last_recovery;
    vec![
        ("durable_streams_enabled", "1".into()),
        ("durable_streams", journal.durable_count().to_string()),
        ("durable_streams_policy", journal.policy.to_string()),
        ("stream_fsync", journal.writer.policy().to_string()),
        ("stream_segments", stats.segments.load(Ordering::Relaxed).to_string()),
        ("stream_bytes_on_disk", stats.bytes_on_disk.load(Ordering::Relaxed).to_string()),
        ("stream_fsyncs", fsyncs.to_string()),
        ("stream_fsync_last_us", stats.fsync_last_us.load(Ordering::Relaxed).to_string()),
        ("stream_fsync_avg_us", total.checked_div(fsyncs).unwrap_or(0).to_string()),
        ("stream_fsync_max_us", stats.fsync_max_us.load(Ordering::Relaxed).to_string()),
        ("stream_write_errors", stats.io_errors.load(Ordering::Relaxed).to_string()),
        ("stream_last_recovery_time_ms", report.elapsed.as_millis().to_string()),
        ("stream_last_recovery_streams", report.streams.to_string()),
        ("stream_last_recovery_entries", report.entries.to_string()),
        ("stream_last_recovery_records", report.records.to_string()),
        ("stream_last_recovery_peak_resident_bytes", report.peak_resident_bytes.to_string()),
        ("stream_torn_records_truncated", report.torn_records_truncated.to_string()),
    ]
}
