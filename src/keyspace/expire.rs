//! The active expiry cycle: reclaims keys whose deadline passed even if nobody reads them.
//!
//! Redis samples random keys with a TTL; Herald keeps deadlines ordered, so each cycle removes
//! exactly the due keys, oldest first. A cycle stops after a fixed number of keys so it never
//! holds the keyspace for long; the caller (`server.rs`'s expiry loop) runs cycles on a timer
//! (`hz`) and immediately again, after yielding the lock, while a cycle used its whole budget.
//!
//! The budget is shared fairly: every database with due keys first gets an equal slice, and
//! only the slices others left unused go to whoever still has due keys. A database flooded
//! with expired keys therefore cannot starve the others' reclamation.
//!
//! Each removed key is queued by its [`super::Db`] for an `expired` notification, which the
//! caller publishes (and counts in INFO's `expired_keys`) after the cycle.

use super::Keyspace;

/// Keys one cycle may remove across all databases before yielding the keyspace lock.
pub const CYCLE_BUDGET: usize = 2_000;

/// Runs one cycle at the keyspace's current clock. Returns how many keys it removed; a result
/// equal to [`CYCLE_BUDGET`] means more keys may be due.
pub fn run_cycle(keyspace: &mut Keyspace) -> usize {
    run_cycle_with_budget(keyspace, CYCLE_BUDGET)
}

/// Runs one cycle removing at most `budget` due keys (see the module docs for how the budget
/// is shared). Returns how many it removed.
pub fn run_cycle_with_budget(keyspace: &mut Keyspace, budget: usize) -> usize {
    let now = keyspace.now_ms();
    let is_due = |deadline: Option<u64>| deadline.is_some_and(|t| t <= now);
    let due_dbs = keyspace.dbs().filter(|(_, db)| is_due(db.next_deadline())).count();
    if due_dbs == 0 || budget == 0 {
        return 0;
    }
    let slice = (budget / due_dbs).max(1);
    let mut removed = 0;
    // First pass: an equal slice each. Second pass: the leftovers, in database order.
    for per_db_cap in [slice, budget] {
        for (_, db) in keyspace.dbs_mut() {
            let left = budget - removed;
            if left == 0 {
                return removed;
            }
            if is_due(db.next_deadline()) {
                removed += db.expire_due(now, per_db_cap.min(left));
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::keyspace::{StringValue, Value};

    fn value() -> Value {
        Value::String(StringValue::from_bytes(b"v"))
    }

    /// A keyspace at clock 1000 whose db 0 holds `due0` due keys, db 1 `due1` due keys, and
    /// every db with keys also holds 5 keys due later and 5 persistent keys.
    fn keyspace_with_due(due0: usize, due1: usize) -> Keyspace {
        let mut keyspace = Keyspace::new(4);
        keyspace.set_clock(1_000);
        for (index, due) in [(0, due0), (1, due1)] {
            let db = keyspace.db(index);
            for i in 0..due {
                db.insert(format!("due:{i}").as_bytes(), value(), Some(500 + i as u64 % 500), 0);
            }
            for i in 0..5 {
                db.insert(format!("later:{i}").as_bytes(), value(), Some(2_000), 0);
                db.insert(format!("forever:{i}").as_bytes(), value(), None, 0);
            }
        }
        keyspace
    }

    #[test]
    fn a_cycle_removes_no_more_than_its_budget() {
        let mut keyspace = keyspace_with_due(CYCLE_BUDGET * 2 + 7, 0);
        assert_eq!(run_cycle(&mut keyspace), CYCLE_BUDGET);
        assert_eq!(keyspace.db(0).len(), CYCLE_BUDGET + 7 + 10);
        assert_eq!(run_cycle(&mut keyspace), CYCLE_BUDGET);
        assert_eq!(run_cycle(&mut keyspace), 7, "the last cycle takes the rest and says so by returning less");
        assert_eq!(run_cycle(&mut keyspace), 0);
        assert_eq!(keyspace.db(0).len(), 10, "keys due later and persistent keys stay");
    }

    #[test]
    fn a_cycle_reports_each_removed_key_as_expired() {
        let mut keyspace = keyspace_with_due(3, 2);
        assert_eq!(run_cycle(&mut keyspace), 5);
        let events = keyspace.drain_events();
        assert_eq!(events.len(), 5);
        assert!(events.iter().all(|e| e.event == "expired" && e.class == 'x'));
        assert_eq!(events.iter().filter(|e| e.db == 1).count(), 2);
    }

    #[test]
    fn a_flooded_database_does_not_starve_the_others() {
        let mut keyspace = keyspace_with_due(10_000, 30);
        assert_eq!(run_cycle_with_budget(&mut keyspace, 100), 100);
        assert_eq!(keyspace.db(1).len(), 10, "db 1's 30 due keys fit in its half of the budget");
        assert_eq!(keyspace.db(0).len(), 10_000 - 70 + 10, "db 0 got its half plus db 1's leftovers");
    }

    #[test]
    fn a_tiny_budget_still_makes_progress_with_many_due_databases() {
        let mut keyspace = keyspace_with_due(5, 5);
        assert_eq!(run_cycle_with_budget(&mut keyspace, 1), 1);
        assert_eq!(run_cycle_with_budget(&mut keyspace, 0), 0);
    }

    #[test]
    fn nothing_due_means_nothing_removed() {
        let mut keyspace = keyspace_with_due(0, 0);
        assert_eq!(run_cycle(&mut keyspace), 0);
        keyspace.set_clock(2_000);
        assert_eq!(run_cycle(&mut keyspace), 10, "the later keys fall due at their deadline, inclusive");
    }
}
