//! Status-aware `fetch` and `fetch --wait`: nothing is requested before the batch reports
//! it finished, and a status that cannot be read is worked around.

use serde_json::{json, Value};
use wiremock::ResponseTemplate;

use super::*;
use crate::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn wait_fetches_items_as_they_finish_and_never_requests_a_running_one() {
    let server = TestApi::start().await;
    let b = "batch_w";
    serve_status(
        &server,
        b,
        vec![
            batch_body(
                b,
                60,
                &[("a", "COMPLETED"), ("b", "RUNNING"), ("c", "PENDING")],
            ),
            batch_body(
                b,
                60,
                &[("a", "COMPLETED"), ("b", "COMPLETED"), ("c", "RUNNING")],
            ),
            batch_body(
                b,
                60,
                &[("a", "COMPLETED"), ("b", "COMPLETED"), ("c", "FAILED")],
            ),
        ],
    )
    .await;
    serve_completed(&server, b, &["a", "b", "c"]).await;
    let dir = tempfile::tempdir().unwrap();
    let ids = manifest(dir.path(), &["a", "b", "c"]);
    let db = dir.path().join("w.sqlite");
    let base = base(&server);
    let mut args = fetch_args(b, ids.to_str().unwrap(), db.to_str().unwrap(), &base);
    args.extend(["--wait", "--poll-interval", "0.05"]);
    let out = run(&args).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_no_key(&out);
    assert!(out.stderr.contains("running"), "{}", out.stderr);

    let seen = paths(&server).await;
    let status = format!("/v1/batches/{b}");
    let nth_status = |n: usize| {
        seen.iter()
            .enumerate()
            .filter(|(_, p)| **p == status)
            .nth(n)
            .map(|(i, _)| i)
            .unwrap_or_else(|| panic!("fewer than {} status calls: {seen:?}", n + 1))
    };
    let result_at = |id: &str| {
        let p = format!("/v1/batches/{b}/{id}");
        let hits: Vec<usize> = (0..seen.len()).filter(|i| seen[*i] == p).collect();
        assert_eq!(
            hits.len(),
            1,
            "{id} requested {} times: {seen:?}",
            hits.len()
        );
        hits[0]
    };
    // b is only requested after the poll that reports it COMPLETED, c after the one
    // reporting FAILED; never while RUNNING or PENDING.
    assert!(result_at("a") > nth_status(0), "{seen:?}");
    assert!(result_at("b") > nth_status(1), "{seen:?}");
    assert!(result_at("c") > nth_status(2), "{seen:?}");
    let rows = query(
        &db,
        "SELECT custom_id, fetch_state FROM results ORDER BY custom_id",
    );
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().all(|r| r["fetch_state"] == "fetched"),
        "{rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fetch_writes_unfinished_items_as_pending_without_requesting_them() {
    let server = TestApi::start().await;
    let b = "batch_p";
    serve_status(
        &server,
        b,
        vec![batch_body(b, 60, &[("a", "COMPLETED"), ("b", "RUNNING")])],
    )
    .await;
    serve_completed(&server, b, &["a", "b"]).await;
    let dir = tempfile::tempdir().unwrap();
    // "gone" is not in request_status: its row is written without a request.
    let ids = manifest(dir.path(), &["a", "b", "gone"]);
    let db = dir.path().join("p.sqlite");
    let base = base(&server);
    let args = fetch_args(b, ids.to_str().unwrap(), db.to_str().unwrap(), &base);
    let out = run(&args).await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("--wait"), "{}", out.stderr);
    let seen = paths(&server).await;
    assert!(!seen.contains(&format!("/v1/batches/{b}/b")), "{seen:?}");
    assert!(!seen.contains(&format!("/v1/batches/{b}/gone")), "{seen:?}");
    let rows = query(
        &db,
        "SELECT custom_id, fetch_state, fetch_error, attempts FROM results ORDER BY custom_id",
    );
    assert_eq!(rows[0]["fetch_state"], "fetched");
    assert_eq!(rows[1]["fetch_state"], "pending");
    assert_eq!(rows[1]["attempts"], 0);
    assert!(rows[1]["fetch_error"].as_str().unwrap().contains("RUNNING"));
    assert_eq!(rows[2]["fetch_state"], "not_found");
    assert_eq!(rows[2]["attempts"], 0);

    // Later the batch is done: a rerun requests only b (a is in the output, gone is not in
    // the batch): every id is settled, one of them lost, so exit 4.
    server.reset().await;
    serve_status(
        &server,
        b,
        vec![batch_body(b, 60, &[("a", "COMPLETED"), ("b", "COMPLETED")])],
    )
    .await;
    serve_completed(&server, b, &["a", "b"]).await;
    let out = run(&args).await;
    assert_eq!(out.code, 4, "{out:?}");
    let seen = paths(&server).await;
    assert!(!seen.contains(&format!("/v1/batches/{b}/gone")), "{seen:?}");
    assert!(!seen.contains(&format!("/v1/batches/{b}/a")), "{seen:?}");
    assert!(seen.contains(&format!("/v1/batches/{b}/b")), "{seen:?}");
    let rows = query(&db, "SELECT fetch_state FROM results WHERE custom_id = 'b'");
    assert_eq!(rows[0]["fetch_state"], "fetched");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_status_call_falls_back_to_fetching_every_id() {
    let server = TestApi::start().await;
    let b = "batch_f";
    let down =
        ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "status is down"}}));
    server.get(format!("/v1/batches/{b}"), down).await;
    serve_completed(&server, b, &["a", "b"]).await;
    let dir = tempfile::tempdir().unwrap();
    let ids = manifest(dir.path(), &["a", "b"]);
    let db = dir.path().join("f.sqlite");
    let base = base(&server);
    let out = run(&fetch_args(
        b,
        ids.to_str().unwrap(),
        db.to_str().unwrap(),
        &base,
    ))
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("status is down"), "{}", out.stderr);
    assert!(out.stderr.contains("fetching every id"), "{}", out.stderr);
    let rows = query(&db, "SELECT fetch_state FROM results");
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["fetch_state"] == "fetched"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poll_interval_that_is_not_a_positive_number_is_a_usage_error() {
    for bad in ["0", "-1", "NaN", "1e9"] {
        let flag = format!("--poll-interval={bad}");
        let out = run(&["fetch", "batch_x", "--wait", &flag]).await;
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stderr.contains("--poll-interval"), "{}", out.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_manifest_one_status_call_gives_the_ids_and_what_is_unfinished() {
    let server = TestApi::start().await;
    let b = "batch_n";
    let items = [("a", "COMPLETED"), ("b", "CANCELLED"), ("c", "QUEUED")];
    serve_status(&server, b, vec![batch_body(b, 60, &items)]).await;
    serve_completed(&server, b, &["a", "b", "c"]).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("n.sqlite");
    let base = base(&server);
    let out = run(&["fetch", b, "-o", db.to_str().unwrap(), "--base-url", &base]).await;
    assert_eq!(out.code, 3, "{out:?}");
    let seen = paths(&server).await;
    let status = format!("/v1/batches/{b}");
    assert_eq!(seen.iter().filter(|p| **p == status).count(), 1, "{seen:?}");
    assert!(!seen.contains(&format!("{status}/c")), "{seen:?}");
    let rows = query(&db, "SELECT custom_id, fetch_state FROM results ORDER BY 1");
    let states: Vec<&str> = rows
        .iter()
        .map(|r| r["fetch_state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["fetched", "fetched", "pending"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_rides_out_a_failed_poll_and_asks_again_for_a_result_still_pending() {
    let server = TestApi::start().await;
    let b = "batch_r";
    let running = batch_body(b, 60, &[("a", "RUNNING")]);
    let done = batch_body(b, 60, &[("a", "COMPLETED")]);
    let ok = |v: Value| ResponseTemplate::new(200).set_body_json(v);
    let status = vec![ok(running), ResponseTemplate::new(503), ok(done)];
    serve_sequence(&server, &format!("/v1/batches/{b}"), status).await;
    // The batch says COMPLETED before the result does: the first answer is still in progress.
    let mut early = completed("a", 3, 0, 2, 0);
    early["status"] = json!("in_progress");
    let result = vec![ok(early), ok(completed("a", 3, 0, 2, 0))];
    serve_sequence(&server, &format!("/v1/batches/{b}/a"), result).await;
    let dir = tempfile::tempdir().unwrap();
    let ids = manifest(dir.path(), &["a"]);
    let db = dir.path().join("r.sqlite");
    let base = base(&server);
    let mut args = fetch_args(b, ids.to_str().unwrap(), db.to_str().unwrap(), &base);
    args.extend(["--wait", "--poll-interval", "0.05"]);
    let out = run(&args).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("status poll 1 of batch 'batch_r' failed"),
        "{}",
        out.stderr
    );
    let seen = paths(&server).await;
    let results = seen.iter().filter(|p| p.ends_with("/a")).count();
    assert_eq!(results, 2, "{seen:?}");
    let rows = query(&db, "SELECT fetch_state, status FROM results");
    assert_eq!(rows[0]["fetch_state"], "fetched");
    assert_eq!(rows[0]["status"], "completed");
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_stops_waiting_when_the_batch_disappears() {
    let server = TestApi::start().await;
    let b = "batch_d";
    let running = ResponseTemplate::new(200).set_body_json(batch_body(b, 60, &[("a", "RUNNING")]));
    serve_sequence(
        &server,
        &format!("/v1/batches/{b}"),
        vec![running, ResponseTemplate::new(404)],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ids = manifest(dir.path(), &["a"]);
    let db = dir.path().join("d.sqlite");
    let base = base(&server);
    let mut args = fetch_args(b, ids.to_str().unwrap(), db.to_str().unwrap(), &base);
    args.extend(["--wait", "--poll-interval", "0.05"]);
    let out = tokio::time::timeout(std::time::Duration::from_secs(10), run(&args))
        .await
        .expect("--wait kept waiting for a deleted batch");
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("no longer found"), "{}", out.stderr);
    let rows = query(&db, "SELECT fetch_state FROM results");
    assert_eq!(rows[0]["fetch_state"], "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_progress_counts_add_up_to_the_total() {
    let server = TestApi::start().await;
    let b = "batch_c";
    serve_status(
        &server,
        b,
        vec![
            batch_body(
                b,
                60,
                &[
                    ("a", "COMPLETED"),
                    ("b", "RUNNING"),
                    ("c", "RUNNING"),
                    ("d", "PENDING"),
                ],
            ),
            batch_body(
                b,
                60,
                &[
                    ("a", "COMPLETED"),
                    ("b", "COMPLETED"),
                    ("c", "RUNNING"),
                    ("d", "RUNNING"),
                ],
            ),
            batch_body(
                b,
                60,
                &[
                    ("a", "COMPLETED"),
                    ("b", "COMPLETED"),
                    ("c", "COMPLETED"),
                    ("d", "FAILED"),
                ],
            ),
        ],
    )
    .await;
    serve_completed(&server, b, &["a", "b", "c", "d"]).await;
    let dir = tempfile::tempdir().unwrap();
    // "x" is not in the batch: settled from the start, without a request.
    let ids = manifest(dir.path(), &["a", "b", "c", "d", "x"]);
    let db = dir.path().join("c.sqlite");
    let base = base(&server);
    let mut args = fetch_args(b, ids.to_str().unwrap(), db.to_str().unwrap(), &base);
    args.extend(["--wait", "--poll-interval", "0.05"]);
    let out = run(&args).await;
    assert_eq!(out.code, 4, "{out:?}");
    let polls: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("poll "))
        .collect();
    assert!(polls.len() >= 2, "{}", out.stderr);
    for line in &polls {
        let counts: Vec<u64> = line
            .split(" · ")
            .map(|part| {
                let n = part.rsplit(": ").next().unwrap();
                n.split(' ').next().unwrap().parse().unwrap()
            })
            .collect();
        assert_eq!(counts.len(), 4, "{line}");
        assert_eq!(counts.iter().sum::<u64>(), 5, "{line}");
    }
    // Some poll found items running (the case where the counts went over the total).
    assert!(polls.iter().any(|l| !l.contains(" 0 running")), "{polls:?}");
}
