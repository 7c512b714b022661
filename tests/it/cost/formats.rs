//! A Parquet export, a dataset folder and a SQLite export of the same batch give identical
//! cost reports. All are written by the real binary from the same mock API, then priced by
//! `cost`, which reads Parquet in place: it works with no usable temporary folder.

use serde_json::{json, Value};

use crate::harness::*;

/// A completed response with this model, window (None: no metadata window) and creation time.
fn body(id: &str, model: &str, window: Option<&str>, created: i64, u: [i64; 4]) -> Value {
    let mut b = completed(id, u[0], u[1], u[2], u[3]);
    b["model"] = json!(model);
    b["created_at"] = json!(created);
    b["metadata"] = match window {
        Some(w) => json!({"completion_window": w}),
        None => json!({"job": "eval"}),
    };
    b
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parquet_and_a_sqlite_export_give_identical_reports() {
    let server = TestApi::start().await;
    let t0 = 1_790_000_000;
    let items = vec![
        (
            "a1",
            body(
                "a1",
                "zai-org/GLM-5.3",
                Some("flex"),
                t0,
                [1_000_000, 400_000, 200_000, 150_000],
            ),
        ),
        (
            "a2",
            body(
                "a2",
                "zai-org/GLM-5.3",
                None,
                t0,
                [2_000_000, 0, 1_000_000, 0],
            ),
        ),
        (
            "a3",
            body(
                "a3",
                "moonshotai/Kimi-K3",
                Some("balanced"),
                t0 + 86_400,
                [100_000, 50_000, 10_000, 10_000],
            ),
        ),
        (
            "a4",
            body(
                "a4",
                "acme/unknown-1",
                Some("flex"),
                t0,
                [1_000, 0, 1_000, 0],
            ),
        ),
        (
            "a5",
            body(
                "a5",
                "zai-org/GLM-5.3",
                Some("24h"),
                t0 + 86_400,
                [100, 0, 100, 0],
            ),
        ),
    ];
    serve_results(&server, "batch_p", &items).await;
    let gone = api_error(404, "not found", "not_found");
    server.result("batch_p", "gone", gone).await;
    let dir = tempfile::tempdir().unwrap();
    let ids = manifest(dir.path(), &["a1", "a2", "a3", "a4", "a5", "gone"]);
    let mut reports = Vec::new();
    // A TMPDIR that is a file: nothing can be created in it, so a scratch copy would fail.
    let not_a_folder = dir.path().join("tmp-is-a-file");
    std::fs::write(&not_a_folder, "").unwrap();
    for (out, extra) in [
        ("x.sqlite", &[][..]),
        ("x.parquet", &[][..]),
        ("x_dataset", &["--format", "dataset"][..]),
    ] {
        let file = dir.path().join(out);
        let fetch = fetch(&server, "batch_p", &ids, &file, extra).await;
        assert_eq!(fetch.code, 3, "one id is not found: {fetch:?}");
        let mut formats = Vec::new();
        for (format, by) in [
            ("json", "model,completion_window"),
            ("json", "day,batch_id,status"),
            ("csv", "model"),
            ("markdown", "model"),
        ] {
            let mut cmd = command(&[
                "cost",
                file.to_str().unwrap(),
                "--format",
                format,
                "--by",
                by,
            ]);
            cmd.env("TMPDIR", &not_a_folder);
            let r = output(cmd).await;
            assert_eq!(r.code, 0, "{out} {format}: {r:?}");
            formats.push(r.stdout);
        }
        reports.push(formats);
    }
    let sqlite: Value = serde_json::from_str(&reports[0][0]).unwrap();
    // 0.632 + 3.50 + 0.21 + 0.00022; the unknown model is unpriced.
    assert_eq!(sqlite["total"]["cost_usd"], 4.34222);
    assert_eq!(sqlite["total"]["unpriced_requests"], 1);
    assert_eq!(sqlite["not_fetched_requests"], 1);
    for other in &reports[1..] {
        for (s, p) in reports[0].iter().zip(other) {
            assert_eq!(s, p, "SQLite and Parquet reports differ");
        }
    }
}
