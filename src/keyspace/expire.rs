//! The active expiry cycle: reclaims keys whose deadline passed even if nobody reads them.
//!
//! Redis samples random keys with a TTL; Herald keeps deadlines ordered, so each cycle removes
//! exactly the due keys, oldest first. A cycle stops after a fixed number of keys so it never
//! holds the keyspace for long; the caller runs cycles on a timer (`hz`) and immediately again
//! while a cycle used its whole budget.

use super::Keyspace;

/// Keys one cycle may remove across all databases before yielding the keyspace lock.
pub const CYCLE_BUDGET: usize = 2_000;

/// Runs one cycle at the keyspace's current clock. Returns how many keys it removed; a result
/// equal to [`CYCLE_BUDGET`] means more keys are due.
pub fn run_cycle(keyspace: &mut Keyspace) -> usize {
    let now = keyspace.now_ms();
    let mut removed = 0;
    for (_, db) in keyspace.dbs_mut() {
        if removed >= CYCLE_BUDGET {
            break;
        }
        removed += db.expire_due(now, CYCLE_BUDGET - removed);
    }
    removed
}
