//! A script that wrote cannot be killed: SCRIPT KILL answers -UNKILLABLE and SHUTDOWN NOSAVE
//! ends it. In its own test binary because it shuts its server down. (It once hung: a looping
//! script kept its runtime worker's queued tasks from running; the instruction hook now hands
//! them to another thread, see `scripting::engine`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::scripting::{busy_reply, wait_for_busy};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_script_that_wrote_is_unkillable_and_shutdown_nosave_ends_it() {
    let server = common::start_with(|config| config.busy_reply_threshold = 50).await;
    let body = "redis.call('set', 'x', '1') while true do end";
    let mut runner = server.raw().await;
    runner.send_command(&[b"EVAL", body.as_bytes(), b"0"]).await;
    let mut other = server.raw().await;
    wait_for_busy(&mut other, &busy_reply("SCRIPT")).await;
    let unkillable = b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n";
    assert_eq!(other.call(&[b"SCRIPT", b"KILL"]).await, unkillable);
    other.send_command(&[b"SHUTDOWN", b"NOSAVE"]).await;
    let reply = runner.read_reply().await.unwrap();
    assert!(reply.starts_with(b"-ERR Script killed by SHUTDOWN NOSAVE"), "{}", String::from_utf8_lossy(&reply));
    let mut shutdown = server.shared.shutdown_signal();
    tokio::time::timeout(std::time::Duration::from_secs(10), shutdown.wait_for(|stopping| *stopping)).await.unwrap().unwrap();
}

