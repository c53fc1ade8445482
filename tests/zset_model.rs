//! Property test: the sorted set against a plain reference model (a map plus a sort), driven
//! by random adds, removes, increments and pops, comparing order, ranks, ranges and scores.
//! Limits are drawn too, so runs exercise the compact (`listpack`) form, the skip list, and
//! the conversion between them in the middle of a run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use bytes::Bytes;
use herald::keyspace::zset::{LexBound, Range, ScoreBound, ZSet, ZSetLimits};
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
enum Op {
    Add(u8, i8),
    Remove(u8),
    Incr(u8, i8),
    Pop(u8, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..40, -5i8..5).prop_map(|(m, s)| Op::Add(m, s)),
        2 => (0u8..40).prop_map(Op::Remove),
        2 => (0u8..40, -3i8..3).prop_map(|(m, s)| Op::Incr(m, s)),
        1 => (0u8..4, any::<bool>()).prop_map(|(n, max)| Op::Pop(n, max)),
    ]
}

/// Members 36 and up are longer than the smallest `max_value` drawn below, so adding one
/// converts a compact set.
fn member(m: u8) -> Vec<u8> {
    if m >= 36 {
        format!("m{m:02}-long").into_bytes()
    } else {
        format!("m{m:02}").into_bytes()
    }
}

/// The model's order: by score, then member bytes.
fn sorted(model: &BTreeMap<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
    let mut all: Vec<(Vec<u8>, f64)> = model.iter().map(|(m, s)| (m.clone(), *s)).collect();
    all.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(&b.0)));
    all
}

fn as_vec(pairs: Vec<(Bytes, f64)>) -> Vec<(Vec<u8>, f64)> {
    pairs.into_iter().map(|(m, s)| (m.to_vec(), s)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn sorted_set_matches_a_sorted_vector_model(
        ops in proptest::collection::vec(op(), 1..200),
        lo in -6i8..6,
        width in 0i8..8,
        max_entries in prop_oneof![Just(0usize), Just(4), Just(16), Just(1000)],
        max_value in prop_oneof![Just(3usize), Just(64)],
    ) {
        let limits = ZSetLimits { max_entries, max_value };
        let mut zset = ZSet::new(limits, 0, 0);
        let mut model: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
        // Whether the set ever outgrew the compact form (it never goes back).
        let mut outgrew = false;
        for op in ops {
            let adds = match op {
                Op::Add(m, _) | Op::Incr(m, _) => Some(member(m)),
                _ => None,
            };
            if let Some(m) = adds.filter(|m| !model.contains_key(m)) {
                outgrew |= model.len() + 1 > max_entries || m.len() > max_value;
            }
            match op {
                Op::Add(m, s) => {
                    // Halves too, so the compact form stores both integer and double scores.
                    let score = f64::from(s) * 0.5;
                    zset.add(&member(m), score, limits);
                    model.insert(member(m), score);
                }
                Op::Remove(m) => {
                    prop_assert_eq!(zset.remove(&member(m)), model.remove(&member(m)).is_some());
                }
                Op::Incr(m, s) => {
                    let new = model.get(&member(m)).copied().unwrap_or(0.0) + f64::from(s);
                    zset.add(&member(m), new, limits);
                    model.insert(member(m), new);
                }
                Op::Pop(n, max) => {
                    let mut expected = sorted(&model);
                    if max {
                        expected.reverse();
                    }
                    expected.truncate(usize::from(n));
                    for (m, _) in &expected {
                        model.remove(m);
                    }
                    prop_assert_eq!(as_vec(zset.pop(usize::from(n), max)), expected);
                }
            }
            prop_assert_eq!(zset.len(), model.len());
            prop_assert_eq!(zset.encoding(), if outgrew { "skiplist" } else { "listpack" });
        }
        let expected = sorted(&model);
        let actual: Vec<(Vec<u8>, f64)> = zset.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        prop_assert_eq!(&actual, &expected);
        for (rank, (m, s)) in expected.iter().enumerate() {
            prop_assert_eq!(zset.score(m), Some(*s));
            prop_assert_eq!(zset.rank(m, false), Some((rank, *s)));
            prop_assert_eq!(zset.rank(m, true), Some((expected.len() - 1 - rank, *s)));
        }
        // Rank ranges, both directions.
        let len = expected.len();
        if len > 0 {
            let start = usize::from(lo.unsigned_abs()) % len;
            let stop = start + usize::from(width.unsigned_abs());
            let want: Vec<_> = expected.iter().skip(start).take(stop - start + 1).cloned().collect();
            prop_assert_eq!(as_vec(zset.range_by_rank(start, stop, false)), want);
            let mut reversed = expected.clone();
            reversed.reverse();
            let want: Vec<_> = reversed.iter().skip(start).take(stop - start + 1).cloned().collect();
            prop_assert_eq!(as_vec(zset.range_by_rank(start, stop, true)), want);
        }
        // Score ranges with inclusive and exclusive ends.
        let (min, max) = (f64::from(lo), f64::from(lo) + f64::from(width));
        for (min_ex, max_ex) in [(false, false), (true, false), (false, true), (true, true)] {
            let range = Range::Score(ScoreBound { value: min, exclusive: min_ex }, ScoreBound { value: max, exclusive: max_ex });
            let want: Vec<_> = expected
                .iter()
                .filter(|(_, s)| (if min_ex { *s > min } else { *s >= min }) && (if max_ex { *s < max } else { *s <= max }))
                .cloned()
                .collect();
            let interval = zset.rank_interval(&range);
            prop_assert_eq!(as_vec(zset.slice(interval, false, 0, None)), want.clone());
            let mut reversed = want.clone();
            reversed.reverse();
            prop_assert_eq!(as_vec(zset.slice(interval, true, 1, Some(2))), reversed.clone().into_iter().skip(1).take(2).collect::<Vec<_>>());
            // The one-walk path ZRANGE BYSCORE uses, with offsets and limits both ways.
            for (offset, limit) in [(0, None), (0, Some(0)), (0, Some(2)), (1, Some(2)), (3, None), (40, None)] {
                let take = limit.unwrap_or(usize::MAX);
                prop_assert_eq!(as_vec(zset.select_range(&range, false, offset, limit)), want.iter().skip(offset).take(take).cloned().collect::<Vec<_>>());
                prop_assert_eq!(as_vec(zset.select_range(&range, true, offset, limit)), reversed.iter().skip(offset).take(take).cloned().collect::<Vec<_>>());
            }
        }
        // A lex range over a model where every score is equal.
        let mut flat = ZSet::new(limits, 0, 0);
        for (m, _) in &expected {
            flat.add(m, 0.0, limits);
        }
        let from = member(lo.unsigned_abs() * 3);
        let range = Range::Lex(LexBound::Member(Bytes::from(from.clone()), true), LexBound::Max);
        let want: Vec<Vec<u8>> = model.keys().filter(|m| **m > from).cloned().collect();
        let got: Vec<Vec<u8>> = flat.slice(flat.rank_interval(&range), false, 0, None).into_iter().map(|(m, _)| m.to_vec()).collect();
        prop_assert_eq!(got, want.clone());
        let got: Vec<Vec<u8>> = flat.select_range(&range, false, 1, Some(3)).into_iter().map(|(m, _)| m.to_vec()).collect();
        prop_assert_eq!(got, want.iter().skip(1).take(3).cloned().collect::<Vec<_>>());
        let got: Vec<Vec<u8>> = flat.select_range(&range, true, 0, None).into_iter().map(|(m, _)| m.to_vec()).collect();
        prop_assert_eq!(got, want.iter().rev().cloned().collect::<Vec<_>>());
    }
}
