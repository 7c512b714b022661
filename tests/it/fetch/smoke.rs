//! The whole path once: a manifest, a mock API, a SQLite file with one row per id.

use crate::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_small_batch_lands_in_sqlite_with_one_row_per_id() {
    let server = TestApi::start().await;
    serve_results(
        &server,
        "batch_1",
        &[
            ("a", completed("a", 100, 40, 50, 10)),
            ("b", completed("b", 10, 0, 5, 0)),
        ],
    )
    .await;
    let gone = api_error(404, "request not found", "not_found");
    server.result("batch_1", "gone", gone).await;
    let dir = tempfile::tempdir().unwrap();
    let ids = manifest(dir.path(), &["a", "b", "gone"]);
    let db = dir.path().join("out.sqlite");
    let out = fetch(&server, "batch_1", &ids, &db, &[]).await;
    assert_eq!(out.code, 3, "{out:?}");
    assert_no_key(&out);
    let summary: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(summary["fetched"], 2);
    assert_eq!(summary["not_found"], 1);
    let rows = query(&db, "SELECT custom_id, fetch_state, input_tokens, input_cached_tokens, output_reasoning_tokens, output_text, completion_window FROM results ORDER BY custom_id");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["fetch_state"], "fetched");
    assert_eq!(rows[0]["input_cached_tokens"], 40);
    assert_eq!(rows[0]["output_reasoning_tokens"], 10);
    assert_eq!(rows[0]["output_text"], "answer for a");
    assert_eq!(rows[0]["completion_window"], "flex");
    assert_eq!(rows[2]["fetch_state"], "not_found");
}
