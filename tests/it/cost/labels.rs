//! Batch labels: `fetch` records what the batch's status read says of each batch (label,
//! created_at, request_counts), in a `batches` table and a `batch_label` column of SQLite,
//! in a `batch_label` column of Parquet files and datasets; `cost --by label` groups by it,
//! the same in every format; a failed status read loses no row and no label recorded
//! before; exports from before labels keep working.

use std::fs::File;
use std::path::Path;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::*;

/// Mounts `GET /v1/batches/{id}` answering the batch with this label (none: no `label`).
async fn serve_batch(server: &MockServer, id: &str, label: Option<&str>) {
    let mut b = json!({"id": id, "created_at": 1_764_000_000, "request_counts": 2});
    if let Some(l) = label {
        b["label"] = json!(l);
    }
    Mock::given(method("GET"))
        .and(path(format!("/v1/batches/{id}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(b))
        .mount(server)
        .await;
}

/// Three batches of two results: `b1` labelled `exp-A`, `b2` `exp-B`, `b3` without a label.
async fn server() -> MockServer {
    let server = MockServer::start().await;
    for (b, label) in [("b1", Some("exp-A")), ("b2", Some("exp-B")), ("b3", None)] {
        serve_batch(&server, b, label).await;
        let items: Vec<(String, Value)> = (0..2)
            .map(|i| {
                let id = format!("{b}-{i}");
                let body = completed(&id, 1000, 0, 100, 0);
                (id, body)
            })
            .collect();
        let items: Vec<(&str, Value)> =
            items.iter().map(|(i, v)| (i.as_str(), v.clone())).collect();
        serve_results(&server, b, &items).await;
    }
    server
}

/// Fetches `batch`'s two ids into `out`.
async fn fetch_batch(server: &MockServer, dir: &Path, batch: &str, out: &Path, extra: &[&str]) {
    let m = manifest(dir, &[&format!("{batch}-0"), &format!("{batch}-1")]);
    let got = fetch_at(&base(server), batch, &m, out, extra).await;
    assert_eq!(got.code, 0, "{got:?}");
}

/// `cost OUT --by KEYS --json`'s rows, as (keys..., requests).
async fn cost_rows(out: &Path, by: &str) -> Vec<Value> {
    let got = run(&["cost", out.to_str().unwrap(), "--by", by, "--json"]).await;
    assert_eq!(got.code, 0, "{got:?}");
    let report: Value = serde_json::from_str(&got.stdout).unwrap();
    let keys: Vec<String> = by.split(',').map(str::to_owned).collect();
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut v: Vec<Value> = keys.iter().map(|k| r[k].clone()).collect();
            v.push(r["requests"].clone());
            Value::Array(v)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_format_records_the_labels_and_cost_groups_by_them_alike() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let outs = [
        dir.path().join("all.sqlite"),
        dir.path().join("all.parquet"),
        dir.path().join("ds"),
    ];
    std::fs::create_dir(&outs[2]).unwrap();
    for out in &outs {
        for b in ["b1", "b2", "b3"] {
            fetch_batch(&server, dir.path(), b, out, &[]).await;
        }
    }
    let want = vec![json!([null, 2]), json!(["exp-A", 2]), json!(["exp-B", 2])];
    for out in &outs {
        assert_eq!(cost_rows(out, "label").await, want, "{}", out.display());
        assert_eq!(
            cost_rows(out, "label,batch_id").await,
            vec![
                json!([null, "b3", 2]),
                json!(["exp-A", "b1", 2]),
                json!(["exp-B", "b2", 2]),
            ],
            "{}",
            out.display()
        );
    }

    // SQLite: the batches table holds what the API said; every row carries the label.
    let db = &outs[0];
    let batches = query(db, "SELECT * FROM batches ORDER BY batch_id");
    assert_eq!(batches.len(), 3);
    assert_eq!(batches[0]["label"], "exp-A");
    assert_eq!(batches[0]["created_at"], 1_764_000_000);
    assert_eq!(batches[0]["request_counts"], "2");
    assert!(batches[0]["seen_at"].as_i64().unwrap() > 1_764_000_000);
    assert_eq!(batches[2]["label"], Value::Null);
    let labels = query(
        db,
        "SELECT batch_id, batch_label FROM results ORDER BY custom_id",
    );
    let got: Vec<Value> = labels.iter().map(|r| r["batch_label"].clone()).collect();
    assert_eq!(
        got,
        [
            json!("exp-A"),
            json!("exp-A"),
            json!("exp-B"),
            json!("exp-B"),
            Value::Null,
            Value::Null
        ]
    );

    // `load` keeps the labels of a Parquet export, in its rows and in `batches`.
    let loaded = dir.path().join("loaded.sqlite");
    let got = run(&[
        "load",
        outs[1].to_str().unwrap(),
        "--into",
        loaded.to_str().unwrap(),
    ])
    .await;
    assert_eq!(got.code, 0, "{got:?}");
    assert_eq!(cost_rows(&loaded, "label").await, want);
    let loaded_batches = query(&loaded, "SELECT batch_id, label FROM batches ORDER BY 1");
    assert_eq!(loaded_batches.len(), 2, "{loaded_batches:?}");
    assert_eq!(loaded_batches[1]["label"], "exp-B");

    // The HTML report's spend by label names each labelled batch by its label and the
    // unlabelled one by its id, from SQLite and Parquet alike.
    for out in &outs[..2] {
        let page = super::html::html_report(out, dir.path()).await;
        let chart = super::html::section(&page, "labels");
        for name in ["exp-A", "exp-B", "b3"] {
            assert!(chart.contains(name), "{name} not in {chart}");
        }
        assert!(
            !chart.contains(">b1<") && !chart.contains("(none)"),
            "{chart}"
        );
    }

    // `status` names the label under the same key as `cost`.
    let st = run(&["status", "b1", "--base-url", &base(&server), "--json"]).await;
    assert_eq!(st.code, 0, "{st:?}");
    let st: Value = serde_json::from_str(&st.stdout).unwrap();
    assert_eq!(st["label"], "exp-A", "{st}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_status_read_loses_no_row_and_keeps_the_label_recorded_before() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    for name in ["x.sqlite", "x.parquet"] {
        let out = dir.path().join(name);
        let m = manifest(dir.path(), &["b1-0"]);
        let got = fetch_at(&base(&server), "b1", &m, &out, &[]).await;
        assert_eq!(got.code, 0, "{got:?}");
    }
    // The same results, but the status read now fails: the run goes on with the manifest.
    let failing = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/batches/b1"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&failing)
        .await;
    let items: Vec<(&str, Value)> = ["b1-0", "b1-1"]
        .iter()
        .map(|id| (*id, completed(id, 1000, 0, 100, 0)))
        .collect();
    serve_results(&failing, "b1", &items).await;
    for name in ["x.sqlite", "x.parquet"] {
        let out = dir.path().join(name);
        let m = manifest(dir.path(), &["b1-0", "b1-1"]);
        let got = fetch_at(&base(&failing), "b1", &m, &out, &["--max-retries", "0"]).await;
        assert_eq!(got.code, 0, "{got:?}");
        assert!(got.stderr.contains("cannot read the status"), "{got:?}");
        assert_eq!(summary(&got)["fetched"], 2, "{got:?}");
        // Both rows, the new one too, are the batch's: its label is the one recorded.
        assert_eq!(
            cost_rows(&out, "label").await,
            vec![json!(["exp-A", 2])],
            "{name}"
        );
    }
    let db = dir.path().join("x.sqlite");
    let rows = query(&db, "SELECT label, created_at FROM batches");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["label"], "exp-A");
}

/// Rewrites a Parquet file without its last column (`batch_label`), as an export written
/// before labels were recorded.
fn drop_label_column(file: &Path) {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(file).unwrap()).unwrap();
    let schema = reader.schema().clone();
    let n = schema.fields().len() - 1;
    assert_eq!(schema.field(n).name(), "batch_label");
    let keep: Vec<usize> = (0..n).collect();
    let batches: Vec<_> = reader
        .build()
        .unwrap()
        .map(|b| b.unwrap().project(&keep).unwrap())
        .collect();
    let old = std::sync::Arc::new(schema.project(&keep).unwrap());
    let mut w = ArrowWriter::try_new(File::create(file).unwrap(), old, None).unwrap();
    for b in &batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

/// The Parquet files under `dir`, at any depth.
fn parquet_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(parquet_files(&p));
        } else if p.extension().is_some_and(|x| x == "parquet") {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn exports_from_before_labels_are_costed_and_take_labels_when_fetched_into() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.sqlite");
    let pq = dir.path().join("old.parquet");
    let ds = dir.path().join("ds");
    std::fs::create_dir(&ds).unwrap();
    for out in [&db, &pq, &ds] {
        fetch_batch(&server, dir.path(), "b1", out, &[]).await;
    }
    // Back to the schema of before: no batches table, no batch_label column.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "DROP TABLE batches; ALTER TABLE results DROP COLUMN batch_label; PRAGMA user_version = 4;",
    )
    .unwrap();
    drop(conn);
    drop_label_column(&pq);
    let ds_files = parquet_files(&ds);
    assert_eq!(ds_files.len(), 1, "{ds_files:?}");
    drop_label_column(&ds_files[0]);

    for out in [&db, &pq, &ds] {
        assert_eq!(
            cost_rows(out, "label").await,
            vec![json!([null, 2])],
            "{}",
            out.display()
        );
        assert_eq!(
            cost_rows(out, "model").await,
            vec![json!(["zai-org/GLM-5.3", 2])]
        );
    }
    // cost read the old SQLite export without migrating it.
    let version = query(&db, "PRAGMA user_version");
    assert_eq!(version[0]["user_version"], 4);

    // A fetch of another batch into each migrates or widens it; the old rows stay unlabelled
    // in the file, but their batch's label now comes from the status read.
    for out in [&db, &pq, &ds] {
        fetch_batch(&server, dir.path(), "b2", out, &[]).await;
        assert_eq!(
            cost_rows(out, "label").await,
            vec![json!([null, 2]), json!(["exp-B", 2])],
            "{}",
            out.display()
        );
    }
    let rows = query(&db, "SELECT batch_id, label FROM batches");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["label"], "exp-B");
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_records_each_batch_under_the_label_list_shows() {
    use crate::at_scale::{run_sail, sim};
    let sim = sim(20, 3, true).await;
    let listed = run_sail(&sim, &["list", "--json"]).await;
    assert_eq!(listed.code, 0, "{listed:?}");
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    // [label, batch_id, requests] as list shows them, in cost's order (by label).
    let mut want: Vec<Value> = listed
        .as_array()
        .or(listed["batches"].as_array())
        .unwrap_or_else(|| panic!("{listed}"))
        .iter()
        .map(|b| json!([b["label"], b["id"], 20]))
        .collect();
    want.sort_by_key(|v| v.to_string());
    assert_eq!(want.len(), 3);
    assert!(want.iter().all(|w| w[0].is_string()), "{want:?}");
    let dir = tempfile::tempdir().unwrap();
    for name in ["all.sqlite", "all.parquet", "ds/"] {
        let out = dir.path().join(name);
        let got = run_sail(&sim, &["sync", "-o", out.to_str().unwrap()]).await;
        assert_eq!(got.code, 0, "{got:?}");
        let rows = cost_rows(&out, "label,batch_id").await;
        assert_eq!(rows, want, "{name}");
    }
}
