//! The segment format against the byte-exact vectors in `protocol/vectors/segments/`, which an
//! independent implementation (`gen.py` there) wrote from `protocol/segments.md`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use bytes::Bytes;
use herald::keyspace::stream::StreamId;
use herald::persist::format::{encode_header, DecodeError, PendingState, Record, SegmentHeader};
use herald::persist::segment::parse_segment;
use std::path::Path;

fn vector(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol/vectors/segments").join(name);
    let text = std::fs::read_to_string(path).unwrap();
    let hex: String = text.lines().filter(|l| !l.starts_with('#')).collect();
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn id(ms: u64, seq: u64) -> StreamId {
    StreamId::new(ms, seq)
}

fn every_record() -> Vec<Record> {
    let p = PendingState { id: id(5, 1), delivery_ms: 1_700_000_000_000, delivery_count: 2 };
    vec![
        Record::StreamCreated { db: 3, key: b("orders") },
        Record::StreamDeleted,
        Record::EntryAdded { id: id(1, 2), fields: vec![(b("f"), b("v")), (b("g"), Bytes::new())] },
        Record::EntriesDeleted { ids: vec![id(1, 2), id(7, 0)] },
        Record::Trimmed { min_kept: id(9, 9) },
        Record::StreamMeta { last_id: id(10, 0), entries_added: 42, max_deleted_id: id(7, 0) },
        Record::GroupCreated { group: b("g1"), last_id: id(0, 0), entries_read: None },
        Record::GroupSetId { group: b("g1"), last_id: id(4, 0), entries_read: Some(4) },
        Record::Delivered { group: b("g1"), consumer: b("alice"), entries: vec![p] },
        Record::Acked { group: b("g1"), ids: vec![id(5, 1)] },
        Record::Claimed { group: b("g1"), consumer: b("bob"), justid: true, entries: vec![p], dropped: vec![id(6, 0)] },
        Record::ConsumerSeen { group: b("g1"), consumer: b("bob"), seen_ms: 11, active_ms: Some(12) },
        Record::ConsumerDeleted { group: b("g1"), consumer: b("bob") },
        Record::GroupDestroyed { group: b("g1") },
        Record::Expiry { deadline_ms: Some(1_700_000_060_000) },
        Record::Expiry { deadline_ms: None },
    ]
}

#[test]
fn every_record_type_decodes_from_the_vector_with_each_field() {
    let seg = parse_segment(&vector("every_record.hex")).unwrap();
    assert_eq!(seg.header, SegmentHeader { db: 3, index: 0, key: b("orders") });
    assert_eq!(seg.bad_tail, None);
    let records: Vec<Record> = seg.records.into_iter().map(|(_, r)| r).collect();
    assert_eq!(records, every_record());
}

#[test]
fn encoding_reproduces_the_vector_byte_for_byte() {
    let mut bytes = encode_header(&SegmentHeader { db: 3, index: 0, key: b("orders") });
    for record in every_record() {
        record.encode_into(&mut bytes);
    }
    assert_eq!(bytes, vector("every_record.hex"));
}

#[test]
fn a_torn_tail_vector_yields_the_whole_records_and_reports_truncation() {
    let data = vector("torn_tail.hex");
    let seg = parse_segment(&data).unwrap();
    let ids: Vec<StreamId> = seg.records.iter().filter_map(|(_, r)| if let Record::EntryAdded { id, .. } = r { Some(*id) } else { None }).collect();
    assert_eq!(ids, vec![id(1, 0), id(2, 0)]);
    assert_eq!(seg.bad_tail, Some(DecodeError::Truncated));
    assert_eq!(seg.file_len - seg.valid_len, 11);
}

#[test]
fn a_corrupt_tail_vector_is_caught_by_its_crc() {
    let seg = parse_segment(&vector("corrupt_tail.hex")).unwrap();
    assert_eq!(seg.records.len(), 1);
    assert_eq!(seg.bad_tail, Some(DecodeError::BadChecksum));
}
