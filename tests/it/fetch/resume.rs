//! The output file is the checkpoint: reruns skip what is in, and a killed run loses nothing
//! that was committed.

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::harness::*;

/// Answers any result path with a completed response for the id in the path.
struct EchoResults {
    delay: Duration,
}

impl Respond for EchoResults {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let id = req.url.path().rsplit('/').next().unwrap().to_owned();
        let n = id.trim_start_matches("id-").parse::<i64>().unwrap_or(1);
        ResponseTemplate::new(200)
            .set_body_json(completed(&id, 100 + n, n % 50, 20 + n % 7, n % 5))
            .set_delay(self.delay)
    }
}

async fn echo_server(delay: Duration) -> TestApi {
    let server = TestApi::start().await;
    let echo = EchoResults { delay };
    server.get_matching("^/v1/batches/b/[^/]+$", echo).await;
    server
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("id-{i}")).collect()
}

/// Every column but `fetched_at` (wall clock), in a stable order.
fn table(db: &std::path::Path) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let mut rows = query(db, "SELECT * FROM results ORDER BY batch_id, custom_id");
    for r in &mut rows {
        r.remove("fetched_at");
    }
    rows
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rerun_requests_nothing_already_fetched_and_retries_the_rest() {
    let server = echo_server(Duration::ZERO).await;
    Mock::given(method("GET"))
        .and(path_regex("^/v1/batches/b/flaky$"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mut all = ids(20);
    all.push("flaky".into());
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let m = manifest(dir.path(), &all);
    let db = dir.path().join("o.sqlite");

    let first = fetch(&server, "b", &m, &db, &["--max-retries", "2"]).await;
    assert_eq!(first.code, 3, "flaky gave up after 3 tries: {first:?}");
    assert_eq!(result_requests(&server, "b").await, 23);

    server.reset().await;
    let server2 = server; // same server, fresh mocks
    let echo = EchoResults {
        delay: Duration::ZERO,
    };
    server2.get_matching("^/v1/batches/b/[^/]+$", echo).await;
    let second = fetch(&server2, "b", &m, &db, &[]).await;
    assert_eq!(second.code, 0, "{second:?}");
    let s = summary(&second);
    assert_eq!(
        (s["fetched"].as_i64(), s["skipped"].as_i64()),
        (Some(21), Some(20))
    );
    assert_eq!(
        result_requests(&server2, "b").await,
        1,
        "only the failed id is requested again"
    );
    assert_eq!(requests_to(&server2, "/v1/batches/b/flaky").await, 1);

    let third = fetch(&server2, "b", &m, &db, &["--refetch-all"]).await;
    assert_eq!(third.code, 0, "{third:?}");
    assert_eq!(
        result_requests(&server2, "b").await,
        1 + 21,
        "--refetch-all requests every id"
    );
    let runs = query(&db, "SELECT outcome, total, skipped FROM runs ORDER BY id");
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0]["outcome"], "incomplete");
    assert_eq!(
        (&runs[1]["outcome"], &runs[1]["skipped"]),
        (&json!("complete"), &json!(20))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_refetch_never_replaces_a_fetched_row() {
    let server = echo_server(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["id-1"]);
    let db = dir.path().join("o.sqlite");
    assert_eq!(fetch(&server, "b", &m, &db, &[]).await.code, 0);
    server.reset().await;
    server.get_matching("^/v1/batches/b/", status(404)).await;
    let out = fetch(&server, "b", &m, &db, &["--refetch-all"]).await;
    assert_eq!(out.code, 3, "{out:?}");
    let r = query(&db, "SELECT fetch_state, input_tokens FROM results");
    assert_eq!(
        (&r[0]["fetch_state"], &r[0]["input_tokens"]),
        (&json!("fetched"), &json!(101))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn many_batches_share_one_output_file() {
    let server = MockServer::start().await;
    serve_results(&server, "b1", &[("x", completed("x", 1, 0, 1, 0))]).await;
    serve_results(&server, "b2", &[("x", completed("x", 2, 0, 2, 0))]).await;
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["x"]);
    let db = dir.path().join("all.sqlite");
    assert_eq!(fetch(&server, "b1", &m, &db, &[]).await.code, 0);
    assert_eq!(fetch(&server, "b2", &m, &db, &[]).await.code, 0);
    let r = query(
        &db,
        "SELECT batch_id, custom_id, input_tokens FROM results ORDER BY batch_id",
    );
    assert_eq!(r.len(), 2);
    assert_eq!(
        (&r[0]["batch_id"], &r[0]["input_tokens"]),
        (&json!("b1"), &json!(1))
    );
    assert_eq!(
        (&r[1]["batch_id"], &r[1]["input_tokens"]),
        (&json!("b2"), &json!(2))
    );
}

/// Rows committed so far in a file another process is writing (0 before it exists).
fn committed(db: &std::path::Path) -> i64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row("SELECT COUNT(*) FROM results", [], |r| r.get(0))
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sigkilled_run_then_a_rerun_gives_the_same_table_as_a_clean_run() {
    let server = echo_server(Duration::from_millis(40)).await;
    let dir = tempfile::tempdir().unwrap();
    let all = ids(400);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let m = manifest(dir.path(), &all);
    let base = base(&server);

    let clean = dir.path().join("clean.sqlite");
    let out = fetch(&server, "b", &m, &clean, &["-j", "16"]).await;
    assert_eq!(out.code, 0, "{out:?}");

    let killed = dir.path().join("killed.sqlite");
    let mut child = command(&[
        "fetch",
        "b",
        "-m",
        m.to_str().unwrap(),
        "-o",
        killed.to_str().unwrap(),
        "--base-url",
        &base,
        "-j",
        "4",
    ])
    .spawn()
    .unwrap();
    // 400 ids at 4 in flight and 40 ms each take ~4 s: kill as soon as some rows are
    // committed (a commit happens every 500 ms), well before the end.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if committed(&killed) >= 20 || std::time::Instant::now() > deadline {
            break;
        }
    }
    child.start_kill().unwrap(); // SIGKILL
    let status = child.wait().await.unwrap();
    assert!(!status.success(), "the run was killed, not finished");

    let ok = query(&killed, "PRAGMA integrity_check");
    assert_eq!(ok[0]["integrity_check"], "ok");
    let kept = query(&killed, "SELECT COUNT(*) AS n FROM results")[0]["n"]
        .as_i64()
        .unwrap();
    assert!(
        kept > 0 && kept < 400,
        "{kept} rows survived the kill: the test needs a partial file"
    );

    let before = result_requests(&server, "b").await;
    let out = fetch(&server, "b", &m, &killed, &["-j", "16"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let asked = result_requests(&server, "b").await - before;
    assert!(
        asked as i64 <= 400 - kept,
        "rerun asked {asked} ids though {kept} were kept"
    );
    assert_eq!(table(&killed), table(&clean));
}
