//! Snapshots of the cost reports people read: the terminal table (at 80 and 120 columns,
//! and `--wide`) and the Markdown table, for one fixed export the real binary fetched from
//! a scripted API (two models, three windows, two days, an unknown model, a missing id).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::*;

/// 2026-09-21 14:13:20 UTC, and the day after.
const T0: i64 = 1_790_000_000;
const T1: i64 = T0 + 86_400;

/// A completed response for `id` as Sail sends it, with this model, window, creation time
/// and usage `[input, cached, output, reasoning]`.
fn answer(id: &str, model: &str, window: Option<&str>, created: i64, u: [i64; 4]) -> Value {
    let mut body = completed(id, u[0], u[1], u[2], u[3]);
    body["model"] = model.into();
    body["created_at"] = created.into();
    match window {
        Some(w) => body["metadata"]["completion_window"] = w.into(),
        None => body["metadata"] = serde_json::json!({"job": "eval"}),
    }
    body
}

/// The fixed export: `fetch` of batch_s into `dir/s.sqlite`, exit 3 for the missing id.
async fn fixed_export(dir: &Path) -> PathBuf {
    let server = TestApi::start().await;
    let items = [
        (
            "a1",
            answer(
                "a1",
                "zai-org/GLM-5.3",
                Some("flex"),
                T0,
                [1_000_000, 400_000, 200_000, 150_000],
            ),
        ),
        (
            "a2",
            answer(
                "a2",
                "zai-org/GLM-5.3",
                None,
                T0,
                [2_000_000, 0, 1_000_000, 0],
            ),
        ),
        (
            "a3",
            answer(
                "a3",
                "moonshotai/Kimi-K3",
                Some("balanced"),
                T1,
                [100_000, 50_000, 10_000, 10_000],
            ),
        ),
        (
            "a4",
            answer(
                "a4",
                "moonshotai/Kimi-K3",
                Some("asap"),
                T1,
                [30_000, 0, 4_000, 1_000],
            ),
        ),
        (
            "a5",
            answer(
                "a5",
                "acme/unknown-1",
                Some("flex"),
                T0,
                [1_000, 0, 1_000, 0],
            ),
        ),
    ];
    let items: Vec<(&str, Value)> = items.iter().map(|(i, b)| (*i, b.clone())).collect();
    serve_results(&server, "batch_s", &items).await;
    let gone = api_error(404, "request not found", "not_found");
    server.result("batch_s", "gone", gone).await;
    let ids = manifest(dir, &["a1", "a2", "a3", "a4", "a5", "gone"]);
    let db = dir.join("s.sqlite");
    let out = fetch(&server, "batch_s", &ids, &db, &[]).await;
    assert_eq!(out.code, 3, "{out:?}");
    db
}

/// `sail-export cost EXPORT ARGS` at `columns` wide, its stdout with the export's folder
/// written as `[DIR]` (nothing else in it depends on the machine or the clock).
async fn cost(db: &Path, columns: &str, args: &[&str]) -> String {
    let mut all = vec!["cost", db.to_str().unwrap()];
    all.extend_from_slice(args);
    let mut cmd = command(&all);
    cmd.env("COLUMNS", columns).env_remove("RUST_LOG");
    let out = output(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let dir = db.parent().unwrap().to_str().unwrap();
    out.stdout.replace(dir, "[DIR]")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cost_table_and_markdown_of_a_fixed_export_are_as_reviewed() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixed_export(dir.path()).await;
    insta::assert_snapshot!("table_80", cost(&db, "80", &[]).await);
    insta::assert_snapshot!("table_120", cost(&db, "120", &[]).await);
    insta::assert_snapshot!("table_wide", cost(&db, "80", &["--wide"]).await);
    insta::assert_snapshot!(
        "table_by_day_batch",
        cost(&db, "120", &["--by", "day,batch"]).await
    );
    insta::assert_snapshot!("markdown", cost(&db, "80", &["--format", "markdown"]).await);
}
