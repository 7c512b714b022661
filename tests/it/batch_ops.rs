//! Batch operations: `status`, `list`, status-aware `fetch`, `fetch --wait`, and stopping
//! on SIGINT / SIGTERM with a resumable output.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::harness::*;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A `GET /batches/{id}` body with these item statuses, created `age_s` seconds ago.
fn batch_body(id: &str, age_s: i64, items: &[(&str, &str)]) -> Value {
    let status: serde_json::Map<String, Value> = items
        .iter()
        .map(|(k, s)| ((*k).to_owned(), json!({ "status": s })))
        .collect();
    json!({
        "id": id, "label": "nightly-eval", "created_at": now() - age_s,
        "request_counts": items.len(), "request_status": status,
    })
}

/// Answers the n-th call with the n-th body, then the last one forever.
struct Sequence {
    bodies: Vec<Value>,
    calls: AtomicUsize,
}

impl Respond for Sequence {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        ResponseTemplate::new(200).set_body_json(&self.bodies[n.min(self.bodies.len() - 1)])
    }
}

async fn serve_status(server: &MockServer, batch: &str, bodies: Vec<Value>) {
    Mock::given(method("GET"))
        .and(path(format!("/v1/batches/{batch}")))
        .respond_with(Sequence {
            bodies,
            calls: AtomicUsize::new(0),
        })
        .mount(server)
        .await;
}

/// The paths the server received, in arrival order.
async fn paths(server: &MockServer) -> Vec<String> {
    let reqs = server.received_requests().await.unwrap_or_default();
    reqs.iter().map(|r| r.url.path().to_owned()).collect()
}

fn fetch_args<'a>(batch: &'a str, ids: &'a str, db: &'a str, base: &'a str) -> Vec<&'a str> {
    vec![
        "fetch",
        batch,
        "-m",
        ids,
        "-o",
        db,
        "--base-url",
        base,
        "--max-retries",
        "0",
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_fetches_items_as_they_finish_and_never_requests_a_running_one() {
    let server = MockServer::start().await;
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
    let items: Vec<(&str, Value)> = ["a", "b", "c"]
        .iter()
        .map(|id| (*id, completed(id, 10, 0, 5, 0)))
        .collect();
    serve_results(&server, b, &items).await;
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
    let server = MockServer::start().await;
    let b = "batch_p";
    serve_status(
        &server,
        b,
        vec![batch_body(b, 60, &[("a", "COMPLETED"), ("b", "RUNNING")])],
    )
    .await;
    let items = [
        ("a", completed("a", 1, 0, 1, 0)),
        ("b", completed("b", 1, 0, 1, 0)),
    ];
    serve_results(&server, b, &items).await;
    let dir = tempfile::tempdir().unwrap();
    // "gone" is not in request_status: it is still requested (and is a 404).
    let ids = manifest(dir.path(), &["a", "b", "gone"]);
    let db = dir.path().join("p.sqlite");
    let base = base(&server);
    let args = fetch_args(b, ids.to_str().unwrap(), db.to_str().unwrap(), &base);
    let out = run(&args).await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("--wait"), "{}", out.stderr);
    let seen = paths(&server).await;
    assert!(!seen.contains(&format!("/v1/batches/{b}/b")), "{seen:?}");
    assert!(seen.contains(&format!("/v1/batches/{b}/gone")), "{seen:?}");
    let rows = query(
        &db,
        "SELECT custom_id, fetch_state, fetch_error, attempts FROM results ORDER BY custom_id",
    );
    assert_eq!(rows[0]["fetch_state"], "fetched");
    assert_eq!(rows[1]["fetch_state"], "pending");
    assert_eq!(rows[1]["attempts"], 0);
    assert!(rows[1]["fetch_error"].as_str().unwrap().contains("RUNNING"));
    assert_eq!(rows[2]["fetch_state"], "not_found");

    // Later the batch is done: a rerun requests only b (a is in the output, gone stays 404).
    server.reset().await;
    serve_status(
        &server,
        b,
        vec![batch_body(b, 60, &[("a", "COMPLETED"), ("b", "COMPLETED")])],
    )
    .await;
    serve_results(&server, b, &items).await;
    let out = run(&args).await;
    assert_eq!(out.code, 3, "{out:?}");
    let seen = paths(&server).await;
    assert!(!seen.contains(&format!("/v1/batches/{b}/a")), "{seen:?}");
    assert!(seen.contains(&format!("/v1/batches/{b}/b")), "{seen:?}");
    let rows = query(&db, "SELECT fetch_state FROM results WHERE custom_id = 'b'");
    assert_eq!(rows[0]["fetch_state"], "fetched");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_status_call_falls_back_to_fetching_every_id() {
    let server = MockServer::start().await;
    let b = "batch_f";
    Mock::given(method("GET"))
        .and(path(format!("/v1/batches/{b}")))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": {"message": "status is down"}})),
        )
        .mount(&server)
        .await;
    let items = [
        ("a", completed("a", 1, 0, 1, 0)),
        ("b", completed("b", 1, 0, 1, 0)),
    ];
    serve_results(&server, b, &items).await;
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
async fn status_counts_items_per_status_in_a_table_and_in_json() {
    let server = MockServer::start().await;
    let items = [
        ("a", "COMPLETED"),
        ("b", "COMPLETED"),
        ("c", "RUNNING"),
        ("d", "SOMETHING_NEW"),
    ];
    serve_status(
        &server,
        "batch_s",
        vec![batch_body("batch_s", 39 * 3600, &items)],
    )
    .await;
    let base = base(&server);
    let out = run(&["status", "batch_s", "--base-url", &base]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_no_key(&out);
    for text in [
        "batch_s",
        "nightly-eval",
        "COMPLETED",
        "SOMETHING_NEW",
        "39h 0m",
        "50.0%",
    ] {
        assert!(out.stdout.contains(text), "no {text:?} in\n{}", out.stdout);
    }
    assert!(
        !out.stderr.contains("48 hours"),
        "a young batch warned: {}",
        out.stderr
    );

    let out = run(&["status", "batch_s", "--json", "--base-url", &base]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["id"], "batch_s");
    assert_eq!(v["label"], "nightly-eval");
    assert_eq!(v["request_counts"], 4);
    assert!(v["created_at"].is_i64());
    assert_eq!(
        v["by_status"],
        json!({"COMPLETED": 2, "RUNNING": 1, "SOMETHING_NEW": 1})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_older_than_40_hours_warns_about_the_48_hour_deletion() {
    let server = MockServer::start().await;
    let body = batch_body("batch_old", 41 * 3600, &[("a", "COMPLETED")]);
    serve_status(&server, "batch_old", vec![body]).await;
    let base = base(&server);
    for json in [false, true] {
        let mut args = vec!["status", "batch_old", "--base-url", &base];
        if json {
            args.push("--json");
        }
        let out = run(&args).await;
        assert_eq!(out.code, 0, "{out:?}");
        assert!(
            out.stderr
                .contains("warning: batch 'batch_old' was created 41h"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("48 hours"), "{}", out.stderr);
        assert!(
            !out.stdout.contains("warning: "),
            "the warning belongs on stderr"
        );
        if json {
            let v: Value = serde_json::from_str(&out.stdout).unwrap();
            assert_eq!(v["retention_warning"], true);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn status_names_the_batch_on_404_and_the_key_on_401() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/batches/batch_nope"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/batches/batch_locked"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let base = base(&server);
    let out = run(&["status", "batch_nope", "--base-url", &base]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("'batch_nope' not found"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--base-url"), "{}", out.stderr);
    let out = run(&["status", "batch_locked", "--base-url", &base]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("SAIL_API_KEY"), "{}", out.stderr);
    assert_no_key(&out);
}

/// Serves `GET /batches?limit=&after_id=` over `ids` (or the first page forever when
/// `repeat`).
struct Pages {
    ids: Vec<String>,
    repeat: bool,
}

impl Respond for Pages {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q = |k: &str| {
            req.url
                .query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        let limit: usize = q("limit").and_then(|l| l.parse().ok()).unwrap_or(25);
        let start = match q("after_id") {
            Some(a) if !self.repeat => self.ids.iter().position(|i| *i == a).unwrap() + 1,
            _ => 0,
        };
        let page: Vec<Value> = self.ids[start..]
            .iter()
            .take(limit)
            .enumerate()
            .map(|(i, id)| json!({"id": id, "label": "l", "created_at": 1_764_000_000 + i, "request_counts": 7}))
            .collect();
        ResponseTemplate::new(200).set_body_json(page)
    }
}

async fn serve_list(n: usize, repeat: bool) -> MockServer {
    let server = MockServer::start().await;
    let ids = (0..n).map(|i| format!("batch_{i:04}")).collect();
    Mock::given(method("GET"))
        .and(path("/v1/batches"))
        .respond_with(Pages { ids, repeat })
        .mount(&server)
        .await;
    server
}

/// `(limit, after_id)` of each list request, in order.
async fn list_calls(server: &MockServer) -> Vec<(String, Option<String>)> {
    let reqs = server.received_requests().await.unwrap_or_default();
    reqs.iter()
        .map(|r| {
            let q: Vec<(String, String)> = r
                .url
                .query_pairs()
                .map(|(k, v)| (k.into(), v.into()))
                .collect();
            let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            (get("limit").unwrap_or_default(), get("after_id"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn list_pages_with_after_id_until_a_short_page() {
    let server = serve_list(450, false).await;
    let base = base(&server);
    let out = run(&["list", "--json", "--base-url", &base]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let v: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v.len(), 450);
    assert_eq!(v[449]["id"], "batch_0449");
    assert_eq!(v[0]["request_counts"], 7);
    let calls = list_calls(&server).await;
    let expect = [
        ("200".to_owned(), None),
        ("200".to_owned(), Some("batch_0199".to_owned())),
        ("200".to_owned(), Some("batch_0399".to_owned())),
    ];
    assert_eq!(calls, expect);

    let out = run(&["list", "--base-url", &base]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("batch_0449"), "{}", out.stdout);
    assert!(out.stdout.contains("2025-11-24T"), "{}", out.stdout);
    assert!(out.stdout.contains("450 batches"), "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn list_limit_caps_the_page_size_and_the_count() {
    let server = serve_list(450, false).await;
    let base = base(&server);
    let out = run(&["list", "--json", "--limit", "5", "--base-url", &base]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let v: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v.len(), 5);
    assert_eq!(list_calls(&server).await, [("5".to_owned(), None)]);

    let server2 = serve_list(450, false).await;
    let base2 = crate::harness::base(&server2);
    let out = run(&["list", "--json", "--limit", "250", "--base-url", &base2]).await;
    let v: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v.len(), 250);
    assert_eq!(v[249]["id"], "batch_0249");
    let calls = list_calls(&server2).await;
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[1].1.as_deref(), Some("batch_0199"));

    let out = run(&["list", "--limit", "0", "--base-url", &base2]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--limit"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn list_stops_with_a_warning_when_the_server_repeats_a_page() {
    let server = serve_list(300, true).await;
    let base = base(&server);
    let out = run(&["list", "--json", "--base-url", &base]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let v: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v.len(), 200);
    assert_eq!(list_calls(&server).await.len(), 2);
    assert!(out.stderr.contains("no new batch"), "{}", out.stderr);
}

/// Starts the binary, waits until `ready(paths seen)` holds, sends `signal`, and returns
/// what the run printed.
async fn signal_when(
    args: &[&str],
    server: &MockServer,
    ready: impl Fn(&[String]) -> bool,
    signal: &str,
) -> Output {
    let mut child = command(args).spawn().expect("start sail-export");
    let pid = child.id().expect("pid").to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready(&paths(server).await) {
        assert!(
            Instant::now() < deadline,
            "never ready: {:?}",
            paths(server).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("the run did not stop within 10 s of the signal")
        .unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_mid_run_commits_what_was_fetched_and_a_rerun_resumes() {
    let server = MockServer::start().await;
    let b = "batch_i";
    let ids: Vec<String> = (0..20).map(|i| format!("id{i:02}")).collect();
    let all: Vec<(&str, &str)> = ids.iter().map(|i| (i.as_str(), "COMPLETED")).collect();
    serve_status(&server, b, vec![batch_body(b, 60, &all)]).await;
    // The first three answer at once, every other one hangs.
    for (n, id) in ids.iter().enumerate() {
        let mut resp = ResponseTemplate::new(200).set_body_json(completed(id, 3, 0, 2, 0));
        if n >= 3 {
            resp = resp.set_delay(Duration::from_secs(60));
        }
        Mock::given(method("GET"))
            .and(path(format!("/v1/batches/{b}/{id}")))
            .respond_with(resp)
            .mount(&server)
            .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let m = manifest(dir.path(), &refs);
    let db = dir.path().join("i.sqlite");
    let base = base(&server);
    let mut args = fetch_args(b, m.to_str().unwrap(), db.to_str().unwrap(), &base);
    args.extend(["-j", "4"]);
    // With 4 in flight, the 7th result request goes out only once id00..id02 are written.
    let results = |p: &[String]| p.iter().filter(|p| p.matches('/').count() == 4).count();
    let out = signal_when(&args, &server, |p| results(p) >= 7, "-INT").await;
    assert_eq!(out.code, 130, "{out:?}");
    assert!(out.stderr.contains("3 fetched"), "{}", out.stderr);
    assert!(out.stderr.contains("rerun"), "{}", out.stderr);
    let rows = query(
        &db,
        "SELECT custom_id FROM results WHERE fetch_state = 'fetched' ORDER BY 1",
    );
    let got: Vec<&str> = rows
        .iter()
        .map(|r| r["custom_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["id00", "id01", "id02"]);
    let runs = query(&db, "SELECT outcome FROM runs");
    assert_eq!(runs[0]["outcome"], "interrupted");

    server.reset().await;
    serve_status(&server, b, vec![batch_body(b, 60, &all)]).await;
    let fast: Vec<(&str, Value)> = refs
        .iter()
        .map(|i| (*i, completed(i, 3, 0, 2, 0)))
        .collect();
    serve_results(&server, b, &fast).await;
    let out = run(&args).await;
    assert_eq!(out.code, 0, "{out:?}");
    let seen = paths(&server).await;
    for done in ["id00", "id01", "id02"] {
        assert!(
            !seen.contains(&format!("/v1/batches/{b}/{done}")),
            "{done} refetched"
        );
    }
    assert_eq!(results(&seen), 17);
    let rows = query(
        &db,
        "SELECT count(*) AS n FROM results WHERE fetch_state = 'fetched'",
    );
    assert_eq!(rows[0]["n"], 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_wait_sleep_exits_143_with_the_summary() {
    let server = MockServer::start().await;
    let b = "batch_t";
    serve_status(
        &server,
        b,
        vec![batch_body(b, 60, &[("a", "COMPLETED"), ("b", "RUNNING")])],
    )
    .await;
    let items = [
        ("a", completed("a", 1, 0, 1, 0)),
        ("b", completed("b", 1, 0, 1, 0)),
    ];
    serve_results(&server, b, &items).await;
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["a", "b"]);
    let db = dir.path().join("t.sqlite");
    let base = base(&server);
    let mut args = fetch_args(b, m.to_str().unwrap(), db.to_str().unwrap(), &base);
    args.extend(["--wait", "--poll-interval", "0.1"]);
    let status = format!("/v1/batches/{b}");
    let polled = |p: &[String]| p.iter().filter(|p| **p == status).count() >= 3;
    let out = signal_when(&args, &server, polled, "-TERM").await;
    assert_eq!(out.code, 143, "{out:?}");
    assert!(
        out.stderr.contains("1 fetched, 1 pending"),
        "{}",
        out.stderr
    );
    assert!(!paths(&server).await.contains(&format!("{status}/b")));
    let rows = query(&db, "SELECT custom_id, fetch_state FROM results ORDER BY 1");
    assert_eq!(rows[0]["fetch_state"], "fetched");
    assert_eq!(rows[1]["fetch_state"], "pending");
    assert_eq!(
        query(&db, "SELECT outcome FROM runs")[0]["outcome"],
        "terminated"
    );
}
