//! The retry policy as a user meets it: rate limits, flaky servers, cut bodies, bad keys.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use wiremock::{MockServer, ResponseTemplate};

use crate::harness::*;

/// Mounts a scripted `GET /v1/batches/b/{id}`, one template per request (the last one
/// repeats); returns the arrival times.
async fn script(server: &TestApi, id: &str, steps: Vec<ResponseTemplate>) -> Arrivals {
    server.sequence(format!("/v1/batches/b/{id}"), steps).await
}

fn ok(id: &str) -> ResponseTemplate {
    usage(id, 10, 0, 5, 0)
}

fn gap(seen: &Arrivals, i: usize) -> Duration {
    let s = seen.lock().unwrap();
    s[i + 1] - s[i]
}

/// One fetch of the ids in `ids` from batch `b`; returns the output and the database path.
async fn fetch_ids(
    server: &MockServer,
    ids: &[&str],
    extra: &[&str],
) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), ids);
    let out = fetch(server, "b", &m, &dir.path().join("o.sqlite"), extra).await;
    (out, dir)
}

fn rows(dir: &tempfile::TempDir) -> Vec<serde_json::Map<String, serde_json::Value>> {
    query(
        &dir.path().join("o.sqlite"),
        "SELECT custom_id, fetch_state, http_status, attempts, fetch_error FROM results ORDER BY custom_id",
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limited_requests_wait_the_seconds_in_retry_after() {
    let server = TestApi::start().await;
    let seen = script(
        &server,
        "a",
        vec![
            api_error(429, "slow down", "rate_limit").insert_header("retry-after", "2"),
            ok("a"),
        ],
    )
    .await;
    let (out, dir) = fetch_ids(&server, &["a"], &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        gap(&seen, 0) >= Duration::from_millis(1950),
        "waited {:?}",
        gap(&seen, 0)
    );
    let r = &rows(&dir)[0];
    assert_eq!(
        (&r["fetch_state"], &r["attempts"]),
        (&json!("fetched"), &json!(2))
    );
    assert_eq!(summary(&out)["retries"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limited_requests_wait_until_the_http_date_in_retry_after() {
    let server = TestApi::start().await;
    let (t0, wall0) = (Instant::now(), SystemTime::now());
    let when = httpdate::fmt_http_date(wall0 + Duration::from_secs(4));
    let target = httpdate::parse_http_date(&when).unwrap(); // whole seconds
    let seen = script(&server, "a", vec![refused(429, &when), ok("a")]).await;
    let (out, _dir) = fetch_ids(&server, &["a"], &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let retried_at = wall0 + (seen.lock().unwrap()[1] - t0);
    assert!(
        retried_at + Duration::from_millis(50) >= target,
        "retried {:?} before the date",
        target.duration_since(retried_at).unwrap_or_default()
    );
    assert!(
        retried_at < target + Duration::from_secs(3),
        "retried long after the date"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_are_retried_until_success() {
    let server = TestApi::start().await;
    script(
        &server,
        "a",
        vec![
            ResponseTemplate::new(503),
            ResponseTemplate::new(502),
            ok("a"),
        ],
    )
    .await;
    script(&server, "c", vec![ResponseTemplate::new(500), ok("c")]).await;
    let (out, dir) = fetch_ids(&server, &["a", "c"], &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let r = rows(&dir);
    assert_eq!(
        (&r[0]["attempts"], &r[0]["http_status"]),
        (&json!(3), &json!(200))
    );
    assert_eq!(r[1]["attempts"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_500_is_retried_at_most_twice_and_a_400_never() {
    let server = TestApi::start().await;
    script(&server, "five", vec![ResponseTemplate::new(500)]).await;
    script(
        &server,
        "four",
        vec![api_error(400, "bad id", "invalid_request_error")],
    )
    .await;
    let (out, dir) = fetch_ids(&server, &["five", "four"], &[]).await;
    assert_eq!(out.code, 3, "{out:?}");
    let r = rows(&dir);
    assert_eq!(
        (&r[0]["custom_id"], &r[0]["fetch_state"], &r[0]["attempts"]),
        (&json!("five"), &json!("error"), &json!(3))
    );
    assert_eq!(
        (&r[1]["attempts"], &r[1]["http_status"]),
        (&json!(1), &json!(400))
    );
    assert!(
        r[1]["fetch_error"].as_str().unwrap().contains("bad id"),
        "{:?}",
        r[1]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timed_out_request_is_retried() {
    let server = TestApi::start().await;
    script(
        &server,
        "a",
        vec![ok("a").set_delay(Duration::from_secs(5)), ok("a")],
    )
    .await;
    let started = Instant::now();
    let (out, dir) = fetch_ids(&server, &["a"], &["--timeout", "0.5"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the slow answer was not awaited"
    );
    assert_eq!(rows(&dir)[0]["attempts"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_404_becomes_a_not_found_row() {
    let server = TestApi::start().await;
    script(
        &server,
        "gone",
        vec![api_error(404, "request not found", "not_found_error")],
    )
    .await;
    let (out, dir) = fetch_ids(&server, &["gone"], &[]).await;
    assert_eq!(out.code, 3, "{out:?}");
    let r = &rows(&dir)[0];
    assert_eq!(
        (&r["fetch_state"], &r["http_status"], &r["attempts"]),
        (&json!("not_found"), &json!(404), &json!(1))
    );
    assert_eq!(r["fetch_error"], "request not found");
    assert_eq!(summary(&out)["not_found"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_key_stops_the_run_quickly_with_few_requests() {
    let server = TestApi::start().await;
    let bad_key = api_error(401, "invalid api key", "authentication_error");
    server.get_matching("^/v1/batches/b/.*", bad_key).await;
    let ids: Vec<String> = (0..500).map(|i| format!("id-{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let started = Instant::now();
    let (out, _dir) = fetch_ids(&server, &ids, &["-j", "8"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let sent = result_requests(&server, "b").await;
    assert!(sent <= 16, "{sent} requests after a 401: a retry storm");
    assert!(out.stderr.contains("SAIL_API_KEY"), "{}", out.stderr);
}

/// A bare HTTP/1.1 server on loopback. Its first answer for a result promises more body
/// than it sends and hangs up; later ones get `good`. The batch status route answers with
/// the batch (no `request_status`, so the manifest's ids are fetched).
async fn truncating_server(good: String) -> (String, Arc<Mutex<usize>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(Mutex::new(0usize));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (good, seen) = (good.clone(), seen.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let reply = if !head.starts_with("GET /v1/batches/b/") {
                    let body = r#"{"id":"b","request_counts":1}"#;
                    format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
                } else {
                    let first = {
                        let mut c = seen.lock().unwrap();
                        *c += 1;
                        *c == 1
                    };
                    let body = if first {
                        &good[..good.len() / 2]
                    } else {
                        &good[..]
                    };
                    format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", good.len())
                };
                let _ = sock.write_all(reply.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (format!("http://{addr}/v1"), count)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_body_is_retried() {
    let good = serde_json::to_string(&completed("a", 10, 0, 5, 0)).unwrap();
    let (base, count) = truncating_server(good).await;
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["a"]);
    let db = dir.path().join("o.sqlite");
    let out = fetch_at(&base, "b", &m, &db, &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(*count.lock().unwrap() >= 2);
    let r = query(
        &db,
        "SELECT fetch_state, attempts, output_text FROM results",
    );
    assert_eq!(
        (&r[0]["fetch_state"], &r[0]["attempts"]),
        (&json!("fetched"), &json!(2))
    );
    assert_eq!(r[0]["output_text"], "answer for a");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_that_never_answers_stops_the_run_quickly_naming_the_base_url() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..200).map(|i| format!("id-{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let m = manifest(dir.path(), &ids);
    let db = dir.path().join("o.sqlite");
    let started = Instant::now();
    let out = fetch_at(&base, "b", &m, &db, &[]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        out.stderr.contains("cannot reach") && out.stderr.contains("--base-url"),
        "{}",
        out.stderr
    );
    assert!(!db.exists(), "nothing to write when nothing answered");
}
