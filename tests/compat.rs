//! Real clients, unmodified, against Herald: redis-py (`tests/compat/redis_py_smoke.py`) and
//! redis-cli (`tests/compat/redis_cli_smoke.sh`), each run as a child process against a Herald
//! started in-process on an ephemeral port.
//!
//! Needs `python3` with the `redis` module and `redis-cli` (Debian's `redis-tools`); `.ci/run`
//! installs both. A missing one fails the test with a message saying what to install.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::Duration;
use tokio::process::Command;

/// A safety net so a hung client fails the test instead of hanging CI.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `program args... PORT` from the crate root against a fresh Herald and returns its
/// stdout, failing the test with both output streams unless it exits 0.
async fn run_against_herald(program: &str, script: &str, install_hint: &str) -> String {
    let server = common::start().await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = Command::new(program)
        .arg(root.join(script))
        .arg(server.addr.port().to_string())
        .current_dir(root)
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(SCRIPT_TIMEOUT, run).await {
        Err(_) => panic!("{script} did not finish within {}s", SCRIPT_TIMEOUT.as_secs()),
        Ok(Err(e)) => panic!("cannot run `{program} {script}` ({e}): {install_hint}"),
        Ok(Ok(output)) => output,
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({}).\n--- stdout\n{stdout}--- stderr\n{stderr}\n(prerequisites: {install_hint})",
        output.status
    );
    stdout
}

#[tokio::test]
async fn redis_py_runs_commands_pipelines_transactions_scans_and_resp3() {
    let stdout = run_against_herald(
        "python3",
        "tests/compat/redis_py_smoke.py",
        "python3 with redis-py: `pip install redis` (.ci/run does)",
    )
    .await;
    for check in ["ok pipeline", "ok transaction", "ok scan_iter", "redis-py smoke: all checks passed"] {
        assert!(stdout.contains(check), "missing {check:?} in:\n{stdout}");
    }
}

#[tokio::test]
async fn redis_cli_works_in_every_output_mode_and_inline_commands_work_over_a_bare_socket() {
    let stdout = run_against_herald(
        "bash",
        "tests/compat/redis_cli_smoke.sh",
        "redis-cli: `apt-get install -y redis-tools` (.ci/run does)",
    )
    .await;
    for check in ["ok ping", "ok pipe mode", "ok inline echo", "redis-cli smoke: all checks passed"] {
        assert!(stdout.contains(check), "missing {check:?} in:\n{stdout}");
    }
}
