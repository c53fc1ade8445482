//! Retention of durable streams by age and by size, applied by deleting whole sealed segments.
//!
//! MAXLEN/MINID trimming works as for any stream. On top of it, `stream-retention-ms` and
//! `stream-retention-bytes` (see [`super::tier::TierSettings`]) bound how much history a
//! durable stream keeps on disk:
//!
//! - by age: a sealed segment whose newest entry ID is older than `now - retention-ms`
//!   (entry IDs are millisecond timestamps) goes, with every segment before it;
//! - by size: while the stream's segments together exceed `retention-bytes`, the oldest
//!   sealed segment goes.
//!
//! The active segment is never deleted, so retention never removes the newest entries.
//! Retention is planned from the segment listing ([`plan`]) and applied ([`apply`]) as an
//! exact `MINID` trim just past the last deleted segment's newest entry, which removes the
//! same entries from memory and from the cold stubs, followed by deleting the files. Since
//! every segment after the first starts with a state snapshot (`protocol/segments.md`),
//! deleting segments from the front loses no group state.

use crate::keyspace::stream::{ColdError, Stream, StreamId, Trim, TrimStrategy};
use crate::persist::io::Storage;
use crate::persist::segment::SegmentInfo;
use std::io;

/// The limits to apply; 0 turns a limit off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Keep entries at most this many ms old (by their ID).
    pub max_age_ms: u64,
    /// Keep at most this many bytes of segments.
    pub max_bytes: u64,
}

impl RetentionPolicy {
    /// Whether the policy limits anything.
    pub fn is_off(&self) -> bool {
        self.max_age_ms == 0 && self.max_bytes == 0
    }
}

/// What retention will do to one stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RetentionPlan {
    /// The sealed segments to delete, oldest first.
    pub delete: Vec<SegmentInfo>,
    /// The trim that removes their entries: everything below this ID goes.
    pub min_kept: Option<StreamId>,
}

/// Plans retention over `segments` (oldest first, as [`super::SegmentReader::segments`] lists
/// them) at `now_ms`.
pub fn plan(segments: &[SegmentInfo], policy: RetentionPolicy, now_ms: u64) -> RetentionPlan {
    let sealed: Vec<&SegmentInfo> = segments.iter().take_while(|s| s.sealed).collect();
    let mut cut = 0usize;
    if policy.max_age_ms != 0 {
        let oldest_kept = now_ms.saturating_sub(policy.max_age_ms);
        // The last sealed segment wholly older than the limit, and everything before it.
        if let Some(i) = sealed.iter().rposition(|s| s.last_id.is_none_or(|id| id.ms < oldest_kept)) {
            cut = cut.max(i + 1);
        }
    }
    if policy.max_bytes != 0 {
        let mut total: u64 = segments.iter().map(|s| s.bytes).sum();
        let mut i = 0;
        while total > policy.max_bytes && i < sealed.len() {
            total = total.saturating_sub(sealed.get(i).map_or(0, |s| s.bytes));
            i += 1;
        }
        cut = cut.max(i);
    }
    let delete: Vec<SegmentInfo> = sealed.into_iter().take(cut).cloned().collect();
    let min_kept = delete.iter().filter_map(|s| s.last_id).max().and_then(StreamId::next);
    RetentionPlan { delete, min_kept }
}

/// What [`apply`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionOutcome {
    /// Entries removed from the stream.
    pub entries: u64,
    /// Segment files deleted.
    pub segments: usize,
    /// Bytes of segment files deleted.
    pub bytes: u64,
}

/// Why retention stopped.
#[derive(Debug)]
pub enum RetentionError {
    /// Trimming needed old history that could not be read.
    Cold(ColdError),
    /// A segment could not be deleted.
    Io(io::Error),
}

impl From<ColdError> for RetentionError {
    fn from(e: ColdError) -> Self {
        RetentionError::Cold(e)
    }
}

impl From<io::Error> for RetentionError {
    fn from(e: io::Error) -> Self {
        RetentionError::Io(e)
    }
}

/// Applies `plan` to `stream` and its files: trims the entries first (reading a cold run the
/// cut goes through while its segment still exists), then deletes the segments. A segment
/// already gone (trimming dropped it) is not an error.
pub fn apply(stream: &mut Stream, storage: &dyn Storage, plan: &RetentionPlan) -> Result<RetentionOutcome, RetentionError> {
    let mut outcome = RetentionOutcome::default();
    if let Some(min_kept) = plan.min_kept {
        outcome.entries = stream.try_trim(Trim { strategy: TrimStrategy::MinId(min_kept), approx: false, limit: 0 })?;
    }
    for segment in &plan.delete {
        match storage.remove_file(&segment.path) {
            Ok(()) => {
                outcome.segments += 1;
                outcome.bytes += segment.bytes;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use std::path::PathBuf;

    fn seg(index: u64, first: u64, last: u64, bytes: u64, sealed: bool) -> SegmentInfo {
        SegmentInfo {
            index,
            path: PathBuf::from(format!("/d/{index}.seg")),
            bytes,
            entries: last - first + 1,
            first_id: Some(StreamId::new(first, 0)),
            last_id: Some(StreamId::new(last, 0)),
            sealed,
        }
    }

    #[test]
    fn age_retention_deletes_sealed_segments_wholly_older_than_the_limit() {
        let segments = vec![seg(0, 100, 199, 10, true), seg(1, 200, 299, 10, true), seg(2, 300, 399, 10, false)];
        let p = plan(&segments, RetentionPolicy { max_age_ms: 100, max_bytes: 0 }, 350);
        assert_eq!(p.delete.iter().map(|s| s.index).collect::<Vec<_>>(), vec![0]);
        assert_eq!(p.min_kept, Some(StreamId::new(199, 1)));
        let p = plan(&segments, RetentionPolicy { max_age_ms: 1, max_bytes: 0 }, 10_000);
        assert_eq!(p.delete.len(), 2, "the active segment always stays");
    }

    #[test]
    fn size_retention_deletes_the_oldest_until_under_the_limit() {
        let segments = vec![seg(0, 1, 9, 100, true), seg(1, 10, 19, 100, true), seg(2, 20, 29, 100, true), seg(3, 30, 39, 50, false)];
        let p = plan(&segments, RetentionPolicy { max_age_ms: 0, max_bytes: 120 }, 0);
        assert_eq!(p.delete.iter().map(|s| s.index).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(p.min_kept, Some(StreamId::new(29, 1)));
        let p = plan(&segments, RetentionPolicy { max_age_ms: 0, max_bytes: 250 }, 0);
        assert_eq!(p.delete.iter().map(|s| s.index).collect::<Vec<_>>(), vec![0]);
        assert_eq!(plan(&segments, RetentionPolicy::default(), 0), RetentionPlan::default());
    }
}
