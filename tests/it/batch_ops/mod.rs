//! Batch operations: `status`, `list`, status-aware `fetch`, `fetch --wait`, and stopping
//! on SIGINT / SIGTERM with a resumable output, and `demo --serve` as an API to run them
//! against. Shared helpers live here.

mod demo_serve;
mod fetch_wait;
mod signals;
mod signals_merge;
mod status_list;
mod sync_exit;

use serde_json::{json, Value};
use wiremock::{MockServer, ResponseTemplate};

use crate::harness::{ok, TestApi};

/// Now, in unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A `GET /batches/{id}` body with these item statuses, created `age_s` seconds ago.
pub fn batch_body(id: &str, age_s: i64, items: &[(&str, &str)]) -> Value {
    let status: serde_json::Map<String, Value> = items
        .iter()
        .map(|(k, s)| ((*k).to_owned(), json!({ "status": s })))
        .collect();
    json!({
        "id": id, "label": "nightly-eval", "created_at": now() - age_s,
        "request_counts": items.len(), "request_status": status,
    })
}

/// Serves `GET {url_path}` with `responses` in turn (the last one forever).
pub async fn serve_sequence(server: &TestApi, url_path: &str, responses: Vec<ResponseTemplate>) {
    server.sequence(url_path, responses).await;
}

/// Serves `GET /batches/{batch}` with `bodies` in turn (the last one forever).
pub async fn serve_status(server: &TestApi, batch: &str, bodies: Vec<Value>) {
    let responses = bodies.into_iter().map(ok).collect();
    serve_sequence(server, &format!("/v1/batches/{batch}"), responses).await;
}

/// The paths the server received, in arrival order.
pub async fn paths(server: &MockServer) -> Vec<String> {
    let reqs = server.received_requests().await.unwrap_or_default();
    reqs.iter().map(|r| r.url.path().to_owned()).collect()
}

/// `fetch` of `batch` from `ids` into `db`, with no retries (the tests stay fast).
pub fn fetch_args<'a>(batch: &'a str, ids: &'a str, db: &'a str, base: &'a str) -> Vec<&'a str> {
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

/// Serves a small completed result for each of `ids` in `batch`.
pub async fn serve_completed(server: &TestApi, batch: &str, ids: &[&str]) {
    server.completed(batch, ids).await;
}
