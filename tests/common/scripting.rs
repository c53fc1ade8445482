//! Support for scripting tests: script SHA1s and waiting for a long script's -BUSY.

use super::RawClient;

/// The SHA1 Redis names a script body by (EVALSHA, SCRIPT LOAD, error suffixes), in lowercase hex.
pub fn sha(body: &str) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

/// The exact -BUSY reply while a script runs past the threshold; `kill` names the command that
/// stops it (`SCRIPT` for EVAL scripts, `FUNCTION` for functions).
pub fn busy_reply(kill: &str) -> Vec<u8> {
    format!("-BUSY Redis is busy running a script. You can only call {kill} KILL or SHUTDOWN NOSAVE.\r\n").into_bytes()
}

/// Sends GET until the reply is `busy` (each GET waits for the keyspace until the running script
/// passes the threshold, then answers); bounded so a broken server fails instead of hanging.
pub async fn wait_for_busy(other: &mut RawClient, busy: &[u8]) {
    for _ in 0..1000 {
        if other.call(&[b"GET", b"x"]).await == busy {
            return;
        }
    }
    panic!("never saw -BUSY");
}
