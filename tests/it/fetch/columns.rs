//! Every column, for the shapes of response Sail can send.

use serde_json::{json, Value};
use wiremock::{MockServer, ResponseTemplate};

use crate::harness::*;

/// A response with the given overrides on top of a completed one.
fn with(custom_id: &str, patch: Value) -> Value {
    let mut body = completed(custom_id, 1000, 200, 300, 120);
    for (k, v) in patch.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn every_column_is_filled_from_each_response_shape() {
    let server = MockServer::start().await;
    let items = vec![
        (
            "multi",
            with(
                "multi",
                json!({"output": [
                    {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}],
                     "content": [{"type": "reasoning_text", "text": "secret chain"}]},
                    {"type": "message", "role": "assistant", "content": [
                        {"type": "output_text", "text": "Part one. "},
                        {"type": "output_text", "text": "Part two — ünïcødé ✓ 你好"}
                    ]},
                    {"type": "function_call", "name": "lookup", "arguments": "{}", "call_id": "c1"},
                    {"type": "message", "content": [{"type": "output_text", "text": " End."}]}
                ],
                "usage": {
                    "input_tokens": 1000,
                    "input_tokens_details": {"cached_tokens": 200, "reasoning_tokens": 0},
                    "output_tokens": 300,
                    "output_tokens_details": {"cached_tokens": 0, "reasoning_tokens": 120},
                    "total_tokens": 1300,
                    "prompt_tokens": 1000,
                    "completion_tokens": 300
                }}),
            ),
        ),
        (
            "stringy",
            with("stringy", json!({"output": "just a string"})),
        ),
        (
            "nulled",
            with(
                "nulled",
                json!({"output": null, "usage": null, "metadata": {}}),
            ),
        ),
        (
            "failed",
            with(
                "failed",
                json!({"status": "failed", "output": [], "error": {"code": 500, "message": "model crashed", "type": "server_error"}}),
            ),
        ),
        (
            "cut",
            with(
                "cut",
                json!({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}),
            ),
        ),
        (
            "odd",
            with(
                "odd",
                json!({"brand_new_field": {"x": [1, 2]}, "status": "weird_future_status",
                       "output": {"type": "message", "content": [{"type": "output_text", "text": "obj"}]},
                       "metadata": {"completion_window": "balanced", "note": "ü"},
                       "temperature": null, "top_p": 0.95}),
            ),
        ),
        (
            "running",
            with("running", json!({"status": "in_progress", "output": null})),
        ),
    ];
    let mut raw = std::collections::HashMap::new();
    for (id, body) in &items {
        let text = serde_json::to_string_pretty(body).unwrap();
        raw.insert(id.to_string(), text.clone());
        serve_one(
            &server,
            "batch_c",
            id,
            ResponseTemplate::new(200).set_body_raw(text, "application/json"),
        )
        .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<&str> = items.iter().map(|(id, _)| *id).collect();
    let m = manifest(dir.path(), &ids);
    let db = dir.path().join("c.sqlite");
    let out = fetch(&server, "batch_c", &m, &db, &[]).await;
    assert_eq!(out.code, 3, "one item is still running: {out:?}");
    let s = summary(&out);
    assert_eq!(
        (s["fetched"].as_i64(), s["pending"].as_i64()),
        (Some(6), Some(1))
    );

    let rows = query(&db, "SELECT * FROM results ORDER BY custom_id");
    let row = |id: &str| rows.iter().find(|r| r["custom_id"] == id).unwrap().clone();

    let r = row("multi");
    let expect = json!({
        "batch_id": "batch_c", "custom_id": "multi", "fetch_state": "fetched", "http_status": 200,
        "attempts": 1, "fetch_error": null, "response_id": "resp_multi", "status": "completed",
        "model": "zai-org/GLM-5.3", "created_at": 1_764_000_000, "completion_window": "flex",
        "input_tokens": 1000, "input_cached_tokens": 200, "input_reasoning_tokens": 0,
        "output_tokens": 300, "output_cached_tokens": 0, "output_reasoning_tokens": 120,
        "total_tokens": 1300, "prompt_tokens": 1000, "completion_tokens": 300,
        "output_text": "Part one. Part two — ünïcødé ✓ 你好 End.", "error_code": null,
        "error_message": null, "incomplete_reason": null, "max_output_tokens": 2048,
        "temperature": 0.7, "top_p": 1.0,
    });
    for (k, v) in expect.as_object().unwrap() {
        assert_eq!(&r[k], v, "column {k} of 'multi'");
    }
    let meta: Value = serde_json::from_str(r["metadata_json"].as_str().unwrap()).unwrap();
    assert_eq!(meta, json!({"completion_window": "flex", "job": "eval"}));
    assert_eq!(
        r["raw_json"].as_str().unwrap(),
        raw["multi"],
        "raw_json is the body as received"
    );
    let fetched_at = r["fetched_at"].as_i64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (now - 120..=now).contains(&fetched_at),
        "fetched_at {fetched_at} is unix seconds"
    );

    assert_eq!(row("stringy")["output_text"], "just a string");

    let r = row("nulled");
    assert_eq!(r["fetch_state"], "fetched");
    assert_eq!(r["output_text"], Value::Null);
    for k in [
        "input_tokens",
        "input_cached_tokens",
        "output_tokens",
        "total_tokens",
        "prompt_tokens",
    ] {
        assert_eq!(r[k], Value::Null, "{k}: missing usage is NULL, never 0");
    }
    assert_eq!(r["completion_window"], Value::Null);
    assert_eq!(r["metadata_json"], "{}");
    assert_eq!(row("multi")["prompt_tokens"], 1000);
    assert_eq!(
        row("stringy")["prompt_tokens"],
        Value::Null,
        "absent alias stays NULL"
    );

    let r = row("failed");
    assert_eq!(
        (&r["status"], &r["fetch_state"]),
        (&json!("failed"), &json!("fetched"))
    );
    assert_eq!(
        (&r["error_code"], &r["error_message"]),
        (&json!("500"), &json!("model crashed"))
    );
    assert_eq!(r["output_text"], Value::Null);

    let r = row("cut");
    assert_eq!(
        (&r["status"], &r["incomplete_reason"]),
        (&json!("incomplete"), &json!("max_output_tokens"))
    );

    let r = row("odd");
    assert_eq!(r["status"], "weird_future_status");
    assert_eq!(
        r["fetch_state"], "fetched",
        "unknown statuses are stored, taken as terminal"
    );
    assert_eq!(r["output_text"], "obj");
    assert_eq!(r["completion_window"], "balanced");
    assert_eq!(
        (&r["temperature"], &r["top_p"]),
        (&Value::Null, &json!(0.95))
    );
    assert!(r["raw_json"].as_str().unwrap().contains("brand_new_field"));

    let r = row("running");
    assert_eq!(
        (&r["fetch_state"], &r["status"]),
        (&json!("pending"), &json!("in_progress"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_raw_leaves_raw_json_null() {
    let server = MockServer::start().await;
    serve_results(&server, "b", &[("a", completed("a", 5, 0, 5, 0))]).await;
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["a"]);
    let db = dir.path().join("r.sqlite");
    let out = fetch(&server, "b", &m, &db, &["--no-raw"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let rows = query(&db, "SELECT raw_json, input_tokens FROM results");
    assert_eq!(rows[0]["raw_json"], Value::Null);
    assert_eq!(rows[0]["input_tokens"], 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_200_that_is_not_a_response_is_retried_once_then_recorded_as_error() {
    let server = MockServer::start().await;
    serve_one(
        &server,
        "b",
        "html",
        ResponseTemplate::new(200).set_body_string("<html>gateway</html>"),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["html"]);
    let db = dir.path().join("h.sqlite");
    let out = fetch(&server, "b", &m, &db, &["--max-retries", "2"]).await;
    assert_eq!(out.code, 3, "{out:?}");
    let rows = query(
        &db,
        "SELECT fetch_state, http_status, attempts, fetch_error FROM results",
    );
    assert_eq!(rows[0]["fetch_state"], "error");
    assert_eq!(rows[0]["http_status"], 200);
    // A whole body that is not a response will not change: one retry, whatever
    // --max-retries allows, and the error says what the body is.
    assert_eq!(rows[0]["attempts"], 2);
    let why = rows[0]["fetch_error"].as_str().unwrap();
    assert!(why.contains("is an HTML page, not JSON"), "{why}");
    assert!(why.contains("<html>gateway</html>"), "{why}");
    assert_eq!(requests_to(&server, "/v1/batches/b/html").await, 2);
}
