//! The writer thread: applies queued file operations in order, and syncs them according to
//! the sync policy, batching concurrent writers into one fsync (group commit).
//!
//! Connections never touch files. Under the keyspace lock a command's records are encoded and
//! queued with a sequence number ([`WriterShared::push`], a short mutex); after the batch the
//! connection releases the keyspace lock and only then waits ([`Ticket::wait`]) for the
//! writer to report that sequence number written (`everysec`, `no`) or synced (`always`).
//! While the writer fsyncs, more operations queue up; it takes them all at once next time, so
//! one fsync covers every connection that wrote meanwhile.

use super::format::SegmentHeader;
use super::io::Storage;
use super::segment::{list_segments, stream_dir, SegmentWriter, STREAMS_DIR};
use super::FsyncPolicy;
use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::{error, warn};

/// One file operation, in the order the keyspace produced it.
#[derive(Debug)]
pub enum Op {
    /// Starts stream `handle`'s folder and its segment 0.
    Create {
        /// The stream's handle.
        handle: u64,
        /// Database index.
        db: u32,
        /// Key.
        key: Bytes,
    },
    /// Appends framed records to the stream's active segment.
    Append {
        /// The stream's handle.
        handle: u64,
        /// Framed records.
        bytes: Vec<u8>,
    },
    /// Seals the active segment and starts the next.
    Roll {
        /// The stream's handle.
        handle: u64,
    },
    /// Deletes the stream's sealed segments with an index below `below`.
    DropSegments {
        /// The stream's handle.
        handle: u64,
        /// The first index kept.
        below: u64,
    },
    /// Syncs the stream (whose last record says it was deleted) and removes its folder,
    /// oldest segment first, so a crash halfway leaves a log that still ends in "deleted".
    Remove {
        /// The stream's handle.
        handle: u64,
    },
}

/// How far the writer got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Every operation up to this sequence number was handed to the OS.
    pub written: u64,
    /// Every operation up to this sequence number is on disk (fsynced).
    pub synced: u64,
    /// An I/O error happened: nothing after it can be promised durable.
    pub failed: bool,
}

#[derive(Debug, Default)]
struct Queue {
    ops: Vec<(u64, Op)>,
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

/// What connections and the writer thread share.
#[derive(Debug)]
pub struct WriterShared {
    queue: Mutex<Queue>,
    wake: Condvar,
    progress: watch::Sender<Progress>,
    policy: AtomicU8,
    /// Counters for INFO.
    pub stats: WriterStats,
    failed: AtomicBool,
}

impl WriterShared {
    /// Shared state for a writer running `policy`.
    pub fn new(policy: FsyncPolicy) -> WriterShared {
        WriterShared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            progress: watch::channel(Progress::default()).0,
            policy: AtomicU8::new(policy as u8),
            stats: WriterStats::default(),
            failed: AtomicBool::new(false),
        }
    }

    /// Queues operations with their sequence numbers (called under the keyspace lock; the
    /// queue's own lock is held only to append).
    pub fn push(&self, ops: impl IntoIterator<Item = (u64, Op)>) {
        self.queue.lock().ops.extend(ops);
        self.wake.notify_one();
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

    /// The writer's progress now.
    pub fn progress(&self) -> Progress {
        *self.progress.borrow()
    }

    /// Whether an I/O error made the writer stop promising durability.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Asks the writer to finish what is queued, sync, and exit.
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
    /// Waits until the batch's records are written (`everysec`, `no`) or synced (`always`).
    pub async fn wait(&self) -> Result<(), WaitError> {
        let always = self.writer.policy() == FsyncPolicy::Always;
        let seq = self.seq;
        let mut rx = self.writer.progress.subscribe();
        let reached = rx.wait_for(|p| p.failed || if always { p.synced >= seq } else { p.written >= seq }).await;
        match reached {
            Ok(p) if !p.failed => Ok(()),
            _ => Err(WaitError::NotDurable),
        }
    }

    /// [`Ticket::wait`] for threads outside the runtime (tests, tools).
    pub fn wait_blocking(&self) -> Result<(), WaitError> {
        let always = self.writer.policy() == FsyncPolicy::Always;
        loop {
            let p = self.writer.progress();
            if p.failed {
                return Err(WaitError::NotDurable);
            }
            if (if always { p.synced } else { p.written }) >= self.seq {
                return Ok(());
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

/// The writer thread's own state.
pub struct Writer {
    shared: Arc<WriterShared>,
    storage: Arc<dyn Storage>,
    root: PathBuf,
    streams: HashMap<u64, SegmentWriter>,
    last_sync: Instant,
}

impl Writer {
    /// A writer over `root` that continues the recovered streams' active segments.
    pub fn new(shared: Arc<WriterShared>, storage: Arc<dyn Storage>, root: PathBuf, reopened: Vec<(u64, SegmentHeader)>) -> std::io::Result<Writer> {
        let mut streams = HashMap::new();
        for (handle, header) in reopened {
            let writer = SegmentWriter::reopen(storage.clone(), stream_dir(&root, handle), &header)?;
            streams.insert(handle, writer);
        }
        storage.create_dir_all(&root.join(STREAMS_DIR))?;
        Ok(Writer { shared, storage, root, streams, last_sync: Instant::now() })
    }

    /// Runs until [`WriterShared::stop`]: takes every queued operation, applies them, syncs
    /// per the policy, publishes progress.
    pub fn run(mut self) {
        loop {
            let (ops, stop) = {
                let mut queue = self.shared.queue.lock();
                while queue.ops.is_empty() && !queue.stop {
                    let dirty = self.streams.values().any(SegmentWriter::is_dirty);
                    if dirty && self.shared.policy() == FsyncPolicy::Everysec {
                        let due = self.last_sync + Duration::from_secs(1);
                        let now = Instant::now();
                        if now >= due {
                            break;
                        }
                        self.shared.wake.wait_for(&mut queue, due - now);
                    } else {
                        self.shared.wake.wait(&mut queue);
                    }
                }
                (std::mem::take(&mut queue.ops), queue.stop)
            };
            let mut progress = self.shared.progress();
            // Consecutive appends to one stream (one per command of a pipelined batch, and
            // every batch queued meanwhile) go to the file in one write. Progress is published
            // only after the loop, so no waiter is released before its bytes are written.
            let mut run: Option<(u64, Vec<u8>)> = None;
            for (seq, op) in ops {
                match op {
                    Op::Append { handle, bytes } => match &mut run {
                        Some((h, buffer)) if *h == handle => buffer.extend_from_slice(&bytes),
                        _ => {
                            self.flush_run(run.take());
                            run = Some((handle, bytes));
                        }
                    },
                    op => {
                        self.flush_run(run.take());
                        if let Err(e) = self.apply(op) {
                            self.fail(&format!("segment write failed: {e}"));
                        }
                    }
                }
                progress.written = progress.written.max(seq);
            }
            self.flush_run(run.take());
            let policy = self.shared.policy();
            let sync_now = stop || policy == FsyncPolicy::Always || (policy == FsyncPolicy::Everysec && self.last_sync.elapsed() >= Duration::from_secs(1));
            if sync_now {
                self.sync_all();
                progress.synced = progress.written;
            } else if policy == FsyncPolicy::No {
                // Nothing more will be done for these bytes: the OS owns them.
                progress.synced = progress.written;
            }
            progress.failed = self.shared.failed();
            self.shared.progress.send_replace(progress);
            if stop {
                return;
            }
        }
    }

    /// Writes a run of appends gathered for one stream.
    fn flush_run(&mut self, run: Option<(u64, Vec<u8>)>) {
        let Some((handle, bytes)) = run else { return };
        if let Err(e) = self.apply(Op::Append { handle, bytes }) {
            self.fail(&format!("segment write failed: {e}"));
        }
    }

    fn fail(&self, what: &str) {
        error!("durable streams: {what}; replies that wait for durability now fail");
        self.shared.stats.io_errors.fetch_add(1, Ordering::Relaxed);
        self.shared.failed.store(true, Ordering::Relaxed);
    }

    fn sync_all(&mut self) {
        let started = Instant::now();
        let mut synced = 0u64;
        let mut failure = None;
        for writer in self.streams.values_mut() {
            if writer.is_dirty() {
                synced += 1;
                if let Err(e) = writer.sync() {
                    failure = Some(e);
                }
            }
        }
        self.last_sync = Instant::now();
        if let Some(e) = failure {
            self.fail(&format!("fsync failed: {e}"));
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

    fn apply(&mut self, op: Op) -> std::io::Result<()> {
        let stats = &self.shared.stats;
        match op {
            Op::Create { handle, db, key } => {
                let dir = stream_dir(&self.root, handle);
                let writer = SegmentWriter::create(self.storage.clone(), dir, db, key, 0)?;
                stats.bytes_on_disk.fetch_add(writer.len(), Ordering::Relaxed);
                stats.segments.fetch_add(1, Ordering::Relaxed);
                self.storage.sync_dir(&self.root.join(STREAMS_DIR))?;
                self.streams.insert(handle, writer);
            }
            Op::Append { handle, bytes } => {
                let writer = self.streams.get_mut(&handle).ok_or_else(|| missing(handle))?;
                writer.append(&bytes)?;
                stats.bytes_on_disk.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
            Op::Roll { handle } => {
                let writer = self.streams.get_mut(&handle).ok_or_else(|| missing(handle))?;
                writer.roll()?;
                stats.bytes_on_disk.fetch_add(writer.len(), Ordering::Relaxed);
                stats.segments.fetch_add(1, Ordering::Relaxed);
            }
            Op::DropSegments { handle, below } => {
                let dir = stream_dir(&self.root, handle);
                for (index, path) in list_segments(self.storage.as_ref(), &dir)? {
                    if index >= below {
                        break;
                    }
                    let len = self.storage.file_len(&path).unwrap_or(0);
                    self.storage.remove_file(&path)?;
                    stats.bytes_on_disk.fetch_sub(len.min(stats.bytes_on_disk.load(Ordering::Relaxed)), Ordering::Relaxed);
                    stats.segments.fetch_sub(1, Ordering::Relaxed);
                }
                self.storage.sync_dir(&dir)?;
            }
            Op::Remove { handle } => {
                if let Some(mut writer) = self.streams.remove(&handle) {
                    writer.sync()?;
                }
                let dir = stream_dir(&self.root, handle);
                for (_, path) in list_segments(self.storage.as_ref(), &dir)? {
                    let len = self.storage.file_len(&path).unwrap_or(0);
                    self.storage.remove_file(&path)?;
                    stats.bytes_on_disk.fetch_sub(len.min(stats.bytes_on_disk.load(Ordering::Relaxed)), Ordering::Relaxed);
                    stats.segments.fetch_sub(1, Ordering::Relaxed);
                }
                if let Err(e) = self.storage.remove_dir_all(&dir) {
                    warn!("durable streams: could not remove {}: {e}", dir.display());
                }
            }
        }
        Ok(())
    }
}

fn missing(handle: u64) -> std::io::Error {
    std::io::Error::other(format!("stream {handle:016x} has no open segment"))
}
