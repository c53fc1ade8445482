//! Recovery time for a large durable stream (issue 7 asks for ten million entries). Ignored
//! by default (it writes ~400 MB); run it with
//! `HERALD_RECOVERY_ENTRIES=10000000 cargo test --release --test persist_recovery_time -- --ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use herald::keyspace::stream::StreamId;
use herald::persist::recovery::recover;
use herald::persist::segment::{stream_dir, SegmentWriter};
use herald::persist::{FsStorage, Record};
use std::sync::Arc;
use std::time::Instant;

#[test]
#[ignore]
fn recovery_of_ten_million_entries_is_measured() {
    let n: u64 = std::env::var("HERALD_RECOVERY_ENTRIES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let root = std::env::temp_dir().join(format!("herald-recovery-{}", std::process::id()));
    let storage = Arc::new(FsStorage);
    let started = Instant::now();
    let mut w = SegmentWriter::create(storage.clone(), stream_dir(&root, 1), 0, Bytes::from_static(b"s"), 0).unwrap();
    let mut buf = Vec::with_capacity(1 << 20);
    Record::StreamCreated { db: 0, key: Bytes::from_static(b"s") }.encode_into(&mut buf);
    for i in 1..=n {
        Record::EntryAdded { id: StreamId::new(1_700_000_000_000 + i / 10, i % 10), fields: vec![(Bytes::from_static(b"field"), Bytes::from(i.to_string()))] }.encode_into(&mut buf);
        if buf.len() >= 1 << 20 {
            w.append(&buf).unwrap();
            buf.clear();
        }
        if w.len() >= 64 << 20 {
            w.roll().unwrap();
        }
    }
    w.append(&buf).unwrap();
    w.sync().unwrap();
    let written = started.elapsed();
    let started = Instant::now();
    let (streams, report) = recover(storage.as_ref(), &root).unwrap();
    let elapsed = started.elapsed();
    println!(
        "wrote {n} entries ({} bytes, {} segments) in {:.2}s; recovered {} entries from {} records in {:.2}s ({:.0} entries/s)",
        report.bytes,
        report.segments,
        written.as_secs_f64(),
        report.entries,
        report.records,
        elapsed.as_secs_f64(),
        report.entries as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(streams.len(), 1);
    assert_eq!(report.entries, n);
    std::fs::remove_dir_all(&root).ok();
}
