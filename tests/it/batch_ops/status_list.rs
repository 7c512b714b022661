//! `status` and `list`: tables, JSON, the 48-hour warning, errors, and `after_id` paging.

use serde_json::{json, Value};
use wiremock::{MockServer, Request, Respond, ResponseTemplate};

use super::*;
use crate::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn status_counts_items_per_status_in_a_table_and_in_json() {
    let server = TestApi::start().await;
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
    let server = TestApi::start().await;
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
async fn status_names_the_batch_on_404_and_status_and_list_name_the_key_on_401() {
    let server = TestApi::start().await;
    server.get("/v1/batches/batch_nope", status(404)).await;
    server.get("/v1/batches/batch_locked", status(401)).await;
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

    server.get("/v1/batches", status(403)).await;
    let out = run(&["list", "--base-url", &base]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("SAIL_API_KEY"), "{}", out.stderr);
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

async fn serve_list(n: usize, repeat: bool) -> TestApi {
    let server = TestApi::start().await;
    let ids = (0..n).map(|i| format!("batch_{i:04}")).collect();
    server.get("/v1/batches", Pages { ids, repeat }).await;
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

#[tokio::test(flavor = "multi_thread")]
async fn status_refuses_a_batch_id_that_is_not_one_path_segment_before_any_request() {
    let server = TestApi::start().await;
    let base = base(&server);
    for bad in ["a/b", "..", "a b"] {
        let out = run(&["status", bad, "--base-url", &base]).await;
        assert_eq!(out.code, 2, "{bad}: {out:?}");
        assert!(out.stderr.contains("is not a batch id"), "{}", out.stderr);
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}
