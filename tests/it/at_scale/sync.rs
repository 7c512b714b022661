//! `sync` over a simulated account of several batches: the first run exports them all, the
//! second requests no result; unfinished items make exit 3 until they are in.

use std::time::Duration;

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn sync_twice_into_a_dataset_a_database_and_a_parquet_file_fetches_nothing_the_second_time() {
    let sim = sim(60, 3, true).await;
    let ids = batch_ids(&sim);
    let dir = tempfile::tempdir().unwrap();
    let ds = format!("{}/ds/", dir.path().display());
    let db = dir.path().join("all.sqlite").display().to_string();
    let pq = dir.path().join("all.parquet").display().to_string();
    // The Parquet file's counts are read in place: no temporary copy, so a TMPDIR nothing
    // can be created in does not matter.
    let not_a_folder = dir.path().join("tmp-is-a-file");
    std::fs::write(&not_a_folder, "").unwrap();
    for out in [ds.as_str(), db.as_str(), pq.as_str()] {
        let before = sim.stats();
        let first = run_sail(&sim, &["sync", "-o", out, "--json"]).await;
        assert_eq!(first.code, 0, "{first:?}");
        let report: Value = serde_json::from_str(&first.stdout).unwrap();
        assert_eq!(report["batches"], 3, "{report}");
        assert_eq!(report["complete"], 3, "{report}");
        assert_eq!(sim.stats().result_requests - before.result_requests, 180);
        // Each batch reports its own requests: its status read and its 60 results.
        for line in report["lines"].as_array().unwrap() {
            assert_eq!(line["summary"]["requests"], 61, "{line}");
        }
        assert_eq!(report["requests"], 183, "{report}");
        // Oldest first: the main batch is the newest.
        assert_eq!(report["lines"][2]["batch_id"], ids[0].as_str(), "{report}");

        let before = sim.stats();
        let mut again = sail(&sim, &["sync", "-o", out, "--json"]);
        if out == pq {
            again.env("TMPDIR", &not_a_folder);
        }
        let second = output(again).await;
        assert_eq!(second.code, 0, "{second:?}");
        let report: Value = serde_json::from_str(&second.stdout).unwrap();
        assert_eq!(report["already_complete"], 3, "{report}");
        let after = sim.stats();
        assert_eq!(
            after.result_requests, before.result_requests,
            "no result request"
        );
        assert_eq!(
            after.requests - before.requests,
            1,
            "one page of the list, nothing else"
        );
    }
    let rows = query(
        std::path::Path::new(&db),
        "SELECT count(*) AS n, count(DISTINCT batch_id) AS b FROM results WHERE fetch_state = 'fetched'",
    );
    assert_eq!(
        (rows[0]["n"].as_u64(), rows[0]["b"].as_u64()),
        (Some(180), Some(3))
    );
    if let Some(counts) = py_json(DUCKDB_COUNTS, &[&ds]) {
        for id in &ids {
            assert_eq!(counts[id]["fetched"], 60, "{counts}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unfinished_items_make_exit_3_until_a_later_sync_brings_them_in() {
    let sim = sim(300, 2, false).await;
    let dir = tempfile::tempdir().unwrap();
    let ds = format!("{}/ds/", dir.path().display());
    let first = run_sail(&sim, &["sync", "-o", &ds, "--json"]).await;
    assert_eq!(first.code, 3, "{first:?}");
    let report: Value = serde_json::from_str(&first.stdout).unwrap();
    assert_eq!(report["incomplete"], 2, "{report}");
    let pending: u64 = report["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["summary"]["pending"].as_u64().unwrap())
        .sum();
    assert!(pending > 0, "{report}");
    assert!(first.stderr.contains("rerun"), "{}", first.stderr);

    sim.finish_within(Duration::from_millis(1));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let before = sim.stats().result_requests;
    let second = run_sail(&sim, &["sync", "-o", &ds, "--json"]).await;
    let report: Value = serde_json::from_str(&second.stdout).unwrap();
    let pending_now: u64 = report["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["summary"]["pending"].as_u64().unwrap())
        .sum();
    assert_eq!(pending_now, 0, "{report}");
    let asked = sim.stats().result_requests - before;
    assert!(
        asked >= pending && asked < 600,
        "asked {asked} for {pending} pending"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_since_leaves_older_batches_out() {
    let sim = sim(10, 3, true).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("recent.sqlite").display().to_string();
    // The main batch is two to three hours old, the others a day older each.
    let out = run_sail(&sim, &["sync", "-o", &db, "--since", "12h", "--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["batches"], 1, "{report}");
    assert_eq!(report["lines"][0]["batch_id"], sim.batch_id(), "{report}");
    let out = run_sail(&sim, &["sync", "-o", &db, "--since", "soon"]).await;
    assert_eq!(out.code, 2, "{out:?}");
}
