//! `sync`'s exit code follows the state reached, the same on every run: a batch whose status
//! read always fails is an `error` line and exit 3 on the first run and on the rerun, with
//! its status requests counted. And manifest ids the batch does not list get their row
//! without a request.

use serde_json::{json, Value};
use wiremock::{MockServer, ResponseTemplate};

use super::*;
use crate::harness::*;

/// How many requests the server received for `p` so far.
async fn count(server: &MockServer, p: &str) -> usize {
    paths(server).await.iter().filter(|s| *s == p).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_whose_status_read_always_fails_is_exit_3_on_every_run() {
    let server = TestApi::start().await;
    let (ok, bad) = ("batch_fine", "batch_broken");
    let listed = json!([
        {"id": ok, "created_at": now() - 7200, "request_counts": 2},
        {"id": bad, "created_at": now() - 3600, "request_counts": 2},
    ]);
    server.list(listed).await;
    serve_status(
        &server,
        ok,
        vec![batch_body(
            ok,
            7200,
            &[("a", "COMPLETED"), ("b", "COMPLETED")],
        )],
    )
    .await;
    serve_completed(&server, ok, &["a", "b"]).await;
    let bad_status = format!("/v1/batches/{bad}");
    let down =
        ResponseTemplate::new(500).set_body_json(json!({"error": {"message": "status is down"}}));
    server.get(bad_status.as_str(), down).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("all.sqlite");
    let base = base(&server);
    let args = [
        "sync",
        "-o",
        db.to_str().unwrap(),
        "--json",
        "--base-url",
        &base,
        "--max-retries",
        "1",
    ];
    for run_no in 1..=2 {
        let before = count(&server, &bad_status).await;
        let out = run(&args).await;
        assert_eq!(out.code, 3, "run {run_no}: {out:?}");
        assert!(out.stderr.contains("status is down"), "{}", out.stderr);
        let report: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(report["errors"], 1, "{report}");
        let status_reads = (count(&server, &bad_status).await - before) as u64;
        assert!(status_reads > 0);
        let line = &report["lines"][1];
        assert_eq!(line["state"], "error", "{report}");
        assert_eq!(line["requests"], status_reads, "{report}");
        // The first run also read the fine batch's status and its two results.
        let fine = if run_no == 1 { 3 } else { 0 };
        assert_eq!(report["requests"], status_reads + fine, "{report}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn manifest_ids_the_batch_does_not_list_get_a_row_without_a_request() {
    let server = TestApi::start().await;
    let b = "batch_m";
    let items = [("a", "COMPLETED"), ("b", "COMPLETED")];
    serve_status(&server, b, vec![batch_body(b, 60, &items)]).await;
    serve_completed(&server, b, &["a", "b"]).await;
    let dir = tempfile::tempdir().unwrap();
    let strays: Vec<String> = (1..=7).map(|i| format!("stray-{i}")).collect();
    let mut all = vec!["a", "b"];
    all.extend(strays.iter().map(String::as_str));
    let ids = manifest(dir.path(), &all);
    let db = dir.path().join("m.sqlite");
    let base = base(&server);
    let out = run(&fetch_args(
        b,
        ids.to_str().unwrap(),
        db.to_str().unwrap(),
        &base,
    ))
    .await;
    assert_eq!(out.code, 4, "{out:?}");
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("not in batch"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    assert!(
        warnings[0].contains("7 ids of the manifest"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].contains("stray-1, stray-2"), "{}", warnings[0]);
    let seen = paths(&server).await;
    assert!(!seen.iter().any(|p| p.contains("stray")), "{seen:?}");
    let rows = query(
        &db,
        "SELECT fetch_state, fetch_error, attempts FROM results WHERE custom_id LIKE 'stray%'",
    );
    assert_eq!(rows.len(), 7);
    for r in &rows {
        assert_eq!(r["fetch_state"], "not_found", "{r:?}");
        assert_eq!(r["attempts"], 0, "{r:?}");
        assert!(
            r["fetch_error"]
                .as_str()
                .unwrap()
                .starts_with("not in this batch"),
            "{r:?}"
        );
    }
}
