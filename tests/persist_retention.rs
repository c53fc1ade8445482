//! Retention by age and size deletes whole sealed segments of a durable stream, and the
//! entries they held disappear from the stream, resident or evicted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use bytes::Bytes;
use herald::keyspace::stream::{AddId, ColdTier, Stream, StreamId};
use herald::persist::format::Record;
use herald::persist::io::{FaultStorage, Storage};
use herald::persist::retention::{apply, plan, RetentionPolicy};
use herald::persist::segment::{stream_dir, SegmentReader, SegmentWriter};
use herald::persist::tier::{SegmentColdStore, TierSettings};
use std::path::Path;
use std::sync::Arc;

/// A durable stream of `n` entries with IDs `ms-0` for ms in 1..=n, a segment every 1000
/// entries, and a budget small enough that most of it is evicted.
fn durable(storage: &FaultStorage, n: u64) -> (Stream, SegmentReader) {
    let dir = stream_dir(Path::new("/data"), 7);
    let mut writer = SegmentWriter::create(Arc::new(storage.clone()), dir.clone(), 0, Bytes::from_static(b"s"), 0).unwrap();
    let settings = Arc::new(TierSettings::default());
    settings.set_memory_budget(8 * 1024);
    let store = Arc::new(SegmentColdStore::new(Arc::new(storage.clone()), dir.clone(), settings, Arc::new(|| u64::MAX)));
    let mut stream = Stream::new();
    stream.set_cold_tier(ColdTier { store: store.clone(), key: Bytes::from_static(b"s") });
    for ms in 1..=n {
        let fields = vec![(Bytes::from_static(b"f"), Bytes::from(ms.to_string()))];
        let id = stream.add(AddId::Explicit(StreamId::new(ms, 0)), &fields, 0).unwrap();
        writer.append(&Record::EntryAdded { id, fields }.encode()).unwrap();
        store.note_queued(ms, id);
        if ms % 1000 == 0 {
            writer.roll().unwrap();
        }
    }
    (stream, SegmentReader::new(Arc::new(storage.clone()), dir))
}

#[test]
fn size_retention_deletes_the_oldest_segments_and_their_entries() {
    let storage = FaultStorage::new();
    let (mut stream, reader) = durable(&storage, 5_500);
    assert!(stream.cold_runs() > 0);
    let segments = reader.segments().unwrap();
    assert_eq!(segments.len(), 6);
    let per_segment = segments[0].bytes;
    // Room for about two and a half segments: the three oldest sealed ones go.
    let p = plan(&segments, RetentionPolicy { max_age_ms: 0, max_bytes: per_segment * 5 / 2 }, 0);
    assert_eq!(p.delete.len(), 4);
    let outcome = apply(&mut stream, &storage, &p).unwrap();
    assert_eq!(outcome.segments, 4);
    assert_eq!(outcome.entries, 4_000);
    assert_eq!(stream.len(), 1_500);
    assert_eq!(stream.first_id(), StreamId::new(4_001, 0));
    let all = stream.try_range(StreamId::MIN, StreamId::MAX, None, false).unwrap();
    assert_eq!(all.len(), 1_500);
    assert_eq!(all[0].id, StreamId::new(4_001, 0));
    assert_eq!(reader.segments().unwrap().len(), 2);
    assert_eq!(storage.list_dir(&stream_dir(Path::new("/data"), 7)).unwrap().len(), 2);
}

#[test]
fn age_retention_keeps_segments_holding_recent_entries() {
    let storage = FaultStorage::new();
    let (mut stream, reader) = durable(&storage, 3_500);
    // "Now" is 4000 ms: entries older than 2500 ms (IDs below 1500-0) may go, but only whole
    // segments: segment 0 (1..=1000) goes, segment 1 (1001..=2000) holds 2000 and stays.
    let p = plan(&reader.segments().unwrap(), RetentionPolicy { max_age_ms: 2_500, max_bytes: 0 }, 4_000);
    assert_eq!(p.min_kept, Some(StreamId::new(1_000, 1)));
    let outcome = apply(&mut stream, &storage, &p).unwrap();
    assert_eq!((outcome.segments, outcome.entries), (1, 1_000));
    assert_eq!(stream.first_entry().unwrap().id, StreamId::new(1_001, 0));
    assert_eq!(stream.try_range(StreamId::MIN, StreamId::MAX, None, false).unwrap().len(), 2_500);
    // Nothing more is old enough.
    let again = plan(&reader.segments().unwrap(), RetentionPolicy { max_age_ms: 2_500, max_bytes: 0 }, 4_000);
    assert!(again.delete.is_empty());
}

fn segment_files(dir: &Path) -> usize {
    let streams = dir.join("streams");
    std::fs::read_dir(&streams)
        .unwrap()
        .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().filter(|f| f.as_ref().unwrap().path().extension().is_some_and(|e| e == "seg")).count())
        .sum()
}

#[tokio::test]
async fn a_durable_server_with_size_retention_deletes_old_segments_and_their_entries() {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("herald-retention-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_string_lossy().into_owned();
    let server = common::start_with(move |c| {
        c.dir = d;
        c.durable_streams = herald::persist::DurablePolicy::All;
        c.stream_fsync = herald::persist::FsyncPolicy::Always;
        c.stream_segment_size = 8 * 1024;
        c.tiering.set_memory_budget(4096);
        c.tiering.set_retention_bytes(40 * 1024);
    })
    .await;
    let mut c = server.client().await;
    for batch in 0..40u64 {
        let mut pipe = redis::pipe();
        for i in 0..250u64 {
            let n = batch * 250 + i + 1;
            pipe.cmd("XADD").arg("s").arg(format!("{n}-0")).arg("value").arg(format!("{n:08}"));
        }
        let _: Vec<String> = pipe.query_async(&mut c).await.unwrap();
    }
    let len: u64 = redis::cmd("XLEN").arg("s").query_async(&mut c).await.unwrap();
    assert!(len < 10_000, "retention removed old entries (XLEN {len})");
    assert!(len > 500, "but kept the newest (XLEN {len})");
    let first: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE").arg("s").arg("-").arg("+").arg("COUNT").arg(1).query_async(&mut c).await.unwrap();
    let first_ms: u64 = first[0].0.trim_end_matches("-0").parse().unwrap();
    assert_eq!(first_ms, 10_000 - len + 1, "what is left is the newest, without gaps");
    let last: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE").arg("s").arg("+").arg("-").arg("COUNT").arg(1).query_async(&mut c).await.unwrap();
    assert_eq!(last[0].0, "10000-0");
    herald::persist::stop(&server.shared.keyspace);
    // ~40 KiB of 8 KiB segments, plus the active one and one rolled before the check.
    let files = segment_files(&dir);
    assert!(files <= 8, "{files} segment files left");
    server.shared.request_shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
