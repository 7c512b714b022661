//! A signal during `sync`: the batch in progress keeps what it fetched, no further batch is
//! started, the exit is 143 within the bound, and the rerun completes the rest.

use std::time::{Duration, Instant};

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_sync_exits_143_at_once_and_the_rerun_completes() {
    // Three batches of 200 items at 10 ms an answer and 4 in flight: about 0.5 s a batch.
    let sim = sim_at(200, 3, true, Duration::from_millis(10)).await;
    let dir = tempfile::tempdir().unwrap();
    let ds = format!("{}/ds/", dir.path().display());
    let mut cmd = sail(&sim, &["sync", "-o", &ds, "-j", "4", "--json"]);
    // Logs at `warn`: the output is read only at the end, and trace logs would fill the pipe.
    let child = cmd.env("RUST_LOG", "warn").spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    // In the second batch.
    while result_gets(&sim) < 250 {
        assert!(
            Instant::now() < deadline,
            "the sync never reached its second batch"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let sent = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("no exit within 30 s of SIGTERM")
        .unwrap();
    let took = sent.elapsed();
    assert_eq!(out.status.code(), Some(143), "{out:?}");
    assert!(
        took <= Duration::from_secs(2),
        "{took:?} from SIGTERM to the exit"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let lines = report["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "no third batch was started: {report}");
    assert_eq!(lines[0]["state"], "complete", "{report}");
    assert_eq!(lines[1]["summary"]["stopped"], "terminated", "{report}");
    let kept = lines[1]["summary"]["fetched"].as_u64().unwrap();
    assert!(kept > 0, "{report}");

    // The rerun asks only what the stopped run had not stored, and completes every batch.
    let asked_before = result_gets(&sim);
    let rerun = run_sail(&sim, &["sync", "-o", &ds, "--json"]).await;
    assert_eq!(rerun.code, 0, "{rerun:?}");
    assert_eq!(result_gets(&sim) - asked_before, 600 - 200 - kept);
    if let Some(counts) = py_json(DUCKDB_COUNTS, &[&ds]) {
        for id in batch_ids(&sim) {
            assert_eq!(counts[&id]["rows"], 200, "{counts}");
            assert_eq!(counts[&id]["fetched"], 200, "{counts}");
        }
    }
}
