//! The fsync thread: syncs what the journal wrote, according to the sync policy, and does the
//! rare file operations that need not block a command (removing a deleted stream's folder,
//! deleting segments a trim emptied, syncing a directory).
//!
//! Records never pass through this thread: the journal writes them into the segment files
//! itself, under the keyspace lock, one `write` per stream per connection batch (see
//! [`super::journal`]). It then tells this thread which files are dirty and up to which
//! sequence number ([`WriterShared::wrote`]); the thread syncs those files through their
//! [`FileSync`] handles, without the keyspace lock, and publishes the sequence number synced.
//!
//! - `always`: the batch's [`Ticket`] waits for its sequence number to be synced before the
//!   replies go out. The thread syncs as soon as anything is dirty; batches that write while
//!   it syncs are all covered by its next round (group commit: one fsync per file per round).
//! - `everysec`: the thread syncs the dirty files once a second; replies never wait, and the
//!   request path never wakes this thread.
//! - `no`: never synced until the journal stops.

use super::io::FileSync;
use super::segment::list_segments;
use super::io::Storage;
use super::FsyncPolicy;
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::{error, warn};

/// A file operation for the fsync thread, in the order the keyspace produced it.
#[derive(Debug)]
pub enum Op {
    /// Makes a directory's entries (a new stream folder or segment) durable.
    SyncDir {
        /// The directory.
        path: PathBuf,
    },
    /// Deletes the sealed segments in `dir` with an index below `below`.
    DropSegments {
        /// The stream's folder.
        dir: PathBuf,
        /// The first index kept.
        below: u64,
    },
    /// Syncs the stream's active segment (whose last record says it was deleted) and removes
    /// its folder, oldest segment first, so a crash halfway leaves a log that still ends in
    /// "deleted".
    Remove {
        /// The stream's folder.
        dir: PathBuf,
        /// Syncs its active segment.
        active: Arc<dyn FileSync>,
    },
}

/// How far the journal and the fsync thread got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Every record up to this sequence number was handed to the OS.
    pub written: u64,
    /// Every record and operation up to this sequence number is done: synced under
    /// `always` and `everysec`, handed to the OS under `no`.
    pub synced: u64,
    /// An I/O error happened: nothing after it can be promised durable.
    pub failed: bool,
}

/// What the journal handed over and the fsync thread has not taken yet.
#[derive(Default)]
struct Queue {
    /// Files written to since the thread last took this set, by stream handle.
    dirty: HashMap<u64, Arc<dyn FileSync>>,
    ops: Vec<Op>,
    /// The sequence number up to which every record is written and every operation queued.
    written: u64,
    stop: bool,
}

/// Counters INFO `persistence` reports.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Bytes of segment files on disk.
    pub bytes_on_disk: AtomicU64,
    /// Segment files on disk.
    pub segments: AtomicU64,
    /// fsyncs done.
    pub fsyncs: AtomicU64,
    /// Total fsync time, microseconds.
    pub fsync_total_us: AtomicU64,
    /// The last fsync batch's time, microseconds.
    pub fsync_last_us: AtomicU64,
    /// The slowest fsync batch, microseconds.
    pub fsync_max_us: AtomicU64,
    /// Operations that failed with an I/O error.
    pub io_errors: AtomicU64,
}

/// What the journal, the connections and the fsync thread share.
#[derive(Debug)]
pub struct WriterShared {
    queue: Mutex<Queue>,
    wake: Condvar,
    /// `synced` and `failed` (the `written` field is not kept up to date here: see
    /// [`WriterShared::progress`]).
    done: watch::Sender<Progress>,
    /// The sequence number up to which every record is written (read by cold stores).
    written: AtomicU64,
    policy: AtomicU8,
    /// Counters for INFO.
    pub stats: WriterStats,
    failed: AtomicBool,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("dirty", &self.dirty.len()).field("ops", &self.ops).field("written", &self.written).field("stop", &self.stop).finish()
    }
}

impl WriterShared {
    /// Shared state for a writer running `policy`.
    pub fn new(policy: FsyncPolicy) -> WriterShared {
        WriterShared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            done: watch::channel(Progress::default()).0,
            written: AtomicU64::new(0),
            policy: AtomicU8::new(policy as u8),
            stats: WriterStats::default(),
            failed: AtomicBool::new(false),
        }
    }

    /// Reports that every record up to `seq` is written, to the `files` given (stream handle
    /// and sync handle), and queues `op` after them. Wakes the fsync thread only for an
    /// operation or under `always`, where a reply waits.
    pub(super) fn wrote<'a>(&self, seq: u64, files: impl Iterator<Item = (u64, &'a Arc<dyn FileSync>)>, op: Option<Op>) {
        let mut queue = self.queue.lock();
        for (handle, file) in files {
            queue.dirty.insert(handle, file.clone());
        }
        // Under the same lock as the files and the operation: the thread never takes `seq`
        // without everything it covers.
        queue.written = queue.written.max(seq);
        let wake = op.is_some() || self.policy() == FsyncPolicy::Always;
        queue.ops.extend(op);
        drop(queue);
        self.written.fetch_max(seq, Ordering::Release);
        if wake {
            self.wake.notify_one();
        }
    }

    /// The sync policy now in force.
    pub fn policy(&self) -> FsyncPolicy {
        FsyncPolicy::from_u8(self.policy.load(Ordering::Relaxed))
    }

    /// Changes the sync policy (CONFIG SET).
    pub fn set_policy(&self, policy: FsyncPolicy) {
        self.policy.store(policy as u8, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// The progress now.
    pub fn progress(&self) -> Progress {
        Progress { written: self.written.load(Ordering::Acquire), ..*self.done.borrow() }
    }

    /// Whether an I/O error made the writer stop promising durability.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Records an I/O error: from now on no reply that waits for durability is sent.
    pub(super) fn fail(&self, what: &str) {
        error!("durable streams: {what}; replies that wait for durability now fail");
        self.stats.io_errors.fetch_add(1, Ordering::Relaxed);
        self.failed.store(true, Ordering::Relaxed);
        self.done.send_modify(|p| p.failed = true);
    }

    /// Asks the fsync thread to finish what is queued, sync everything, and exit.
    pub fn stop(&self) {
        self.queue.lock().stop = true;
        self.wake.notify_one();
    }
}

/// Why a wait for durability failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitError {
    /// The writer hit an I/O error or stopped: the records may not be on disk.
    NotDurable,
}

/// A batch's claim on durability: wait on it after releasing the keyspace lock.
#[derive(Debug, Clone)]
pub struct Ticket {
    /// The batch's last operation.
    pub seq: u64,
    /// The writer.
    pub writer: Arc<WriterShared>,
}

impl Ticket {
    /// Waits until the batch's records are synced (`always`); under `everysec` and `no` they
    /// are already written and this returns at once. `Err` if an I/O error happened.
    pub async fn wait(&self) -> Result<(), WaitError> {
        if self.writer.policy() != FsyncPolicy::Always {
            return if self.writer.failed() { Err(WaitError::NotDurable) } else { Ok(()) };
        }
        let seq = self.seq;
        let mut rx = self.writer.done.subscribe();
        let reached = rx.wait_for(|p| p.failed || p.synced >= seq).await;
        match reached {
            Ok(p) if !p.failed => Ok(()),
            _ => Err(WaitError::NotDurable),
        }
    }

    /// [`Ticket::wait`] for threads outside the runtime (tests, tools).
    pub fn wait_blocking(&self) -> Result<(), WaitError> {
        loop {
            let p = self.writer.progress();
            if p.failed {
                return Err(WaitError::NotDurable);
            }
            if self.writer.policy() != FsyncPolicy::Always || p.synced >= self.seq {
                return Ok(());
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

/// The fsync thread's own state.
pub struct Writer {
    shared: Arc<WriterShared>,
    storage: Arc<dyn Storage>,
    last_sync: Instant,
}

impl Writer {
    /// The fsync thread of a journal (files are removed through `storage`).
    pub fn new(shared: Arc<WriterShared>, storage: Arc<dyn Storage>) -> Writer {
        Writer { shared, storage, last_sync: Instant::now() }
    }

    /// Runs until [`WriterShared::stop`]: waits for work (dirty files under `always`, the
    /// next second under `everysec`, a queued operation), does it, publishes progress.
    pub fn run(mut self) {
        loop {
            let (ops, files, seq, stop, sync_due, policy) = {
                let mut queue = self.shared.queue.lock();
                loop {
                    if queue.stop || !queue.ops.is_empty() {
                        break;
                    }
                    match self.shared.policy() {
                        FsyncPolicy::Always if !queue.dirty.is_empty() || queue.written > self.shared.done.borrow().synced => break,
                        FsyncPolicy::Everysec => {
                            // Woken by nothing but the clock (and policy changes, stop, ops):
                            // the request path does not signal this thread under `everysec`.
                            let due = self.last_sync + Duration::from_secs(1);
                            let now = Instant::now();
                            if now >= due && !queue.dirty.is_empty() {
                                break;
                            }
                            let timeout = if now >= due { Duration::from_secs(1) } else { due - now };
                            self.shared.wake.wait_for(&mut queue, timeout);
                        }
                        _ => self.shared.wake.wait(&mut queue),
                    }
                }
                let policy = self.shared.policy();
                let sync_due = queue.stop || policy == FsyncPolicy::Always || (policy == FsyncPolicy::Everysec && self.last_sync.elapsed() >= Duration::from_secs(1));
                let files = if sync_due { std::mem::take(&mut queue.dirty) } else { HashMap::new() };
                (std::mem::take(&mut queue.ops), files, queue.written, queue.stop, sync_due, policy)
            };
            for op in ops {
                if let Err(e) = self.apply(op) {
                    self.shared.fail(&format!("segment file operation failed: {e}"));
                }
            }
            if sync_due {
                self.sync_all(files.values());
            }
            // Under `everysec`, operations done early do not make the records synced.
            if sync_due || policy == FsyncPolicy::No {
                self.shared.done.send_if_modified(|p| {
                    let advanced = p.synced < seq;
                    p.synced = p.synced.max(seq);
                    advanced
                });
            }
            if stop {
                return;
            }
        }
    }

    fn sync_all<'a>(&mut self, files: impl Iterator<Item = &'a Arc<dyn FileSync>>) {
        let started = Instant::now();
        let mut synced = 0u64;
        let mut failure = None;
        for file in files {
            synced += 1;
            if let Err(e) = file.sync() {
                failure = Some(e);
            }
        }
        self.last_sync = Instant::now();
        if let Some(e) = failure {
            self.shared.fail(&format!("fsync failed: {e}"));
        }
        if synced > 0 {
            let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            let stats = &self.shared.stats;
            stats.fsyncs.fetch_add(synced, Ordering::Relaxed);
            stats.fsync_total_us.fetch_add(us, Ordering::Relaxed);
            stats.fsync_last_us.store(us, Ordering::Relaxed);
            stats.fsync_max_us.fetch_max(us, Ordering::Relaxed);
        }
    }

    fn apply(&self, op: Op) -> std::io::Result<()> {
        let stats = &self.shared.stats;
        let remove_below = |dir: &std::path::Path, below: u64| -> std::io::Result<()> {
            for (index, path) in list_segments(self.storage.as_ref(), dir)? {
                if index >= below {
                    break;
                }
                let len = self.storage.file_len(&path).unwrap_or(0);
                self.storage.remove_file(&path)?;
                stats.bytes_on_disk.fetch_sub(len.min(stats.bytes_on_disk.load(Ordering::Relaxed)), Ordering::Relaxed);
                stats.segments.fetch_sub(1, Ordering::Relaxed);
            }
            Ok(())
        };
        match op {
            Op::SyncDir { path } => self.storage.sync_dir(&path)?,
            Op::DropSegments { dir, below } => {
                remove_below(&dir, below)?;
                self.storage.sync_dir(&dir)?;
            }
            Op::Remove { dir, active } => {
                active.sync()?;
                remove_below(&dir, u64::MAX)?;
                if let Err(e) = self.storage.remove_dir_all(&dir) {
                    warn!("durable streams: could not remove {}: {e}", dir.display());
                }
            }
        }
        Ok(())
    }
}
