//! Response bodies as servers really send them: a UTF-8 byte order mark before the JSON, a
//! gzip-encoded body, a body over `--max-body-size` (declared or streamed), and a 200 whose
//! body is not the expected JSON (retried once, its error saying why).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::*;

const BOM: &[u8] = b"\xEF\xBB\xBF";

fn with_bom(v: &serde_json::Value) -> Vec<u8> {
    [BOM, &serde_json::to_vec(v).unwrap()].concat()
}

fn rows(db: &std::path::Path) -> Vec<serde_json::Map<String, serde_json::Value>> {
    query(
        db,
        "SELECT custom_id, fetch_state, attempts, fetch_error, output_text, raw_json \
         FROM results ORDER BY custom_id",
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn json_after_a_byte_order_mark_is_taken_in_results_status_and_list() {
    let server = TestApi::start().await;
    let raw = |body: Vec<u8>| ResponseTemplate::new(200).set_body_raw(body, "application/json");
    let batch = json!({"id": "b", "request_counts": 1, "created_at": 1_764_000_000});
    server.get("/v1/batches/b", raw(with_bom(&batch))).await;
    server
        .get("/v1/batches", raw(with_bom(&json!([batch]))))
        .await;
    serve_one(
        &server,
        "b",
        "a",
        raw(with_bom(&completed("a", 10, 0, 5, 0))),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("o.sqlite");
    let out = fetch(&server, "b", &manifest(dir.path(), &["a"]), &db, &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let r = &rows(&db)[0];
    assert_eq!(
        (&r["fetch_state"], &r["attempts"]),
        (&json!("fetched"), &json!(1))
    );
    assert!(r["raw_json"].as_str().unwrap().starts_with('{'), "{r:?}");
    for args in [vec!["status", "b", "--json"], vec!["list", "--json"]] {
        let mut all = args.clone();
        let base = base(&server);
        all.extend(["--base-url", base.as_str()]);
        let out = run(&all).await;
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
        assert!(out.stdout.contains("\"b\""), "{args:?}: {}", out.stdout);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_asks_for_gzip_and_decodes_it() {
    let server = MockServer::start().await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&serde_json::to_vec(&completed("a", 10, 0, 5, 0)).unwrap())
        .unwrap();
    let body = gz.finish().unwrap();
    Mock::given(method("GET"))
        .and(path("/v1/batches/b/a"))
        .and(header("accept-encoding", "gzip"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-encoding", "gzip")
                .set_body_raw(body, "application/json"),
        )
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("o.sqlite");
    let out = fetch(&server, "b", &manifest(dir.path(), &["a"]), &db, &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let r = &rows(&db)[0];
    assert_eq!(
        (&r["fetch_state"], &r["attempts"]),
        (&json!("fetched"), &json!(1))
    );
    assert_eq!(r["output_text"], "answer for a");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_200_that_is_not_the_expected_json_is_tried_twice_and_says_why() {
    let server = MockServer::start().await;
    let html = "<!DOCTYPE html><html><head><title>Sign in</title></head></html>";
    let answers = [
        ("empty", ResponseTemplate::new(200)),
        (
            "html",
            ResponseTemplate::new(200).set_body_raw(html, "text/html"),
        ),
        (
            "junk",
            ResponseTemplate::new(200).set_body_raw("{\"id\": tru", "application/json"),
        ),
        (
            "shape",
            ResponseTemplate::new(200).set_body_json(json!({"hello": "world"})),
        ),
    ];
    for (id, template) in answers.clone() {
        serve_one(&server, "b", id, template).await;
    }
    let ids: Vec<&str> = answers.iter().map(|(id, _)| *id).collect();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("o.sqlite");
    let started = Instant::now();
    let out = fetch(&server, "b", &manifest(dir.path(), &ids), &db, &[]).await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let why: Vec<String> = rows(&db)
        .iter()
        .map(|r| {
            assert_eq!(
                (&r["fetch_state"], &r["attempts"]),
                (&json!("error"), &json!(2)),
                "{r:?}"
            );
            r["fetch_error"].as_str().unwrap().to_owned()
        })
        .collect();
    for id in ids {
        assert_eq!(
            requests_to(&server, &format!("/v1/batches/b/{id}")).await,
            2,
            "{id}"
        );
    }
    assert!(why[0].contains("the body is empty"), "{}", why[0]);
    assert!(
        why[1].contains("is an HTML page")
            && why[1].contains("starts \"<!DOCTYPE html><html><head><title>Sign in"),
        "{}",
        why[1]
    );
    assert!(
        why[2].contains("is not JSON (") && why[2].contains("starts \"{\\\"id\\\": tru\""),
        "{}",
        why[2]
    );
    assert!(
        why[3].contains("JSON but not a response object"),
        "{}",
        why[3]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_declared_over_the_cap_is_an_error_row_and_not_read() {
    let server = MockServer::start().await;
    serve_one(
        &server,
        "b",
        "big",
        ResponseTemplate::new(200).set_body_raw(vec![b' '; 3_000_000], "application/json"),
    )
    .await;
    serve_results(&server, "b", &[("a", completed("a", 10, 0, 5, 0))]).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("o.sqlite");
    let m = manifest(dir.path(), &["a", "big"]);
    let out = fetch(&server, "b", &m, &db, &["--max-body-size", "1MiB"]).await;
    assert_eq!(out.code, 3, "{out:?}");
    let r = rows(&db);
    assert_eq!(r[0]["fetch_state"], "fetched");
    assert_eq!(
        (&r[1]["fetch_state"], &r[1]["attempts"]),
        (&json!("error"), &json!(1))
    );
    let why = r[1]["fetch_error"].as_str().unwrap();
    assert!(
        why.contains("3000000 bytes (Content-Length), over --max-body-size (1 MiB)"),
        "{why}"
    );
}

/// A bare HTTP/1.1 server whose result answers stream `total` bytes of chunked body (no
/// Content-Length); the status route answers with the batch. Returns the base URL and the
/// body bytes the server managed to send.
async fn streaming_server(total: u64) -> (String, Arc<AtomicU64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                if !String::from_utf8_lossy(&buf[..n]).starts_with("GET /v1/batches/b/") {
                    let body = r#"{"id":"b","request_counts":1}"#;
                    let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                    let _ = sock.write_all(head.as_bytes()).await;
                    return;
                }
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 64 << 10];
                let framed =
                    [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
                let mut left = total;
                while left > 0 {
                    if sock.write_all(&framed).await.is_err() {
                        return;
                    }
                    counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    left = left.saturating_sub(chunk.len() as u64);
                }
                let _ = sock.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    (format!("http://{addr}/v1"), sent)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_streamed_body_over_the_cap_is_an_error_row_read_no_further() {
    let total = 200 << 20;
    let (base, sent) = streaming_server(total).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("o.sqlite");
    let m = manifest(dir.path(), &["big"]);
    let out = fetch_at(&base, "b", &m, &db, &["--max-body-size", "1MiB"]).await;
    assert_eq!(out.code, 3, "{out:?}");
    let r = &rows(&db)[0];
    assert_eq!(
        (&r["fetch_state"], &r["attempts"]),
        (&json!("error"), &json!(1))
    );
    let why = r["fetch_error"].as_str().unwrap();
    assert!(
        why.contains("over --max-body-size (1 MiB); not read further"),
        "{why}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = sent.load(Ordering::Relaxed);
    assert!(
        sent < 32 << 20,
        "the server could send {sent} bytes of {total}"
    );
}
