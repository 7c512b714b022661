//! `cost --by metadata.KEY`: the requests' metadata as dimensions, alike over SQLite,
//! Parquet and a dataset: a string is itself, a number or a boolean its JSON text, an
//! object or an array its compact JSON text (keys sorted); a row without the key (or with
//! `null` there, or no metadata) is `(none)`; `a.b` is key `b` of the object at `a` unless
//! the metadata has a key `a.b`. Several keys combine with each other and the other keys.

use std::path::Path;

use serde_json::{json, Value};

use crate::harness::*;

const BATCH: &str = "batch_meta";

/// Six results with varied metadata (all with the same usage, priced at flex).
fn items() -> Vec<(&'static str, Value)> {
    let meta = [
        (
            "m1",
            json!({"completion_window": "flex", "job": "eval", "n": 3, "ok": true,
                   "tags": ["x", 1], "run": {"id": "r1", "seed": 7}}),
        ),
        (
            "m2",
            json!({"completion_window": "flex", "job": "eval", "n": 3.5, "ok": false,
                   "run": {"seed": 7, "id": "r2"}}),
        ),
        (
            "m3",
            json!({"completion_window": "flex", "job": "train", "n": 3}),
        ),
        ("m4", Value::Null),
        (
            "m5",
            json!({"completion_window": "flex", "job": null, "a.b": "flat"}),
        ),
        (
            "m6",
            json!({"completion_window": "flex", "a": {"b": "deep"}}),
        ),
    ];
    meta.into_iter()
        .map(|(id, m)| {
            let mut b = completed(id, 1_000_000, 0, 100_000, 0);
            b["metadata"] = m;
            (id, b)
        })
        .collect()
}

/// The rows of `cost OUT --by BY --json` as [keys..., requests].
async fn rows(out: &Path, by: &str) -> Vec<Value> {
    let got = run(&["cost", out.to_str().unwrap(), "--by", by, "--json"]).await;
    assert_eq!(got.code, 0, "{got:?}");
    let report: Value = serde_json::from_str(&got.stdout).unwrap();
    let keys: Vec<&str> = by.split(',').collect();
    assert_eq!(report["keys"], json!(keys));
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut v: Vec<Value> = keys.iter().map(|k| r[*k].clone()).collect();
            v.push(r["requests"].clone());
            Value::Array(v)
        })
        .collect()
}

/// A SQLite export, a Parquet file and a dataset of the same six results.
async fn exports(dir: &Path) -> Vec<std::path::PathBuf> {
    let server = wiremock::MockServer::start().await;
    serve_results(&server, BATCH, &items()).await;
    let ids: Vec<&str> = items().iter().map(|(i, _)| *i).collect();
    let m = manifest(dir, &ids);
    let outs = vec![dir.join("m.sqlite"), dir.join("m.parquet"), dir.join("ds/")];
    for out in &outs {
        let got = fetch(&server, BATCH, &m, out, &[]).await;
        assert_eq!(got.code, 0, "{got:?}");
    }
    outs
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_keys_group_alike_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<Value>)> = vec![
        // Present, absent (no key, a null, no metadata at all).
        (
            "metadata.job",
            vec![json!([null, 3]), json!(["eval", 2]), json!(["train", 1])],
        ),
        // Numbers and booleans: their JSON text.
        (
            "metadata.n",
            vec![json!([null, 3]), json!(["3", 2]), json!(["3.5", 1])],
        ),
        (
            "metadata.ok",
            vec![json!([null, 4]), json!(["false", 1]), json!(["true", 1])],
        ),
        // Arrays and objects: compact JSON, keys sorted (m1 and m2 wrote them in other orders).
        (
            "metadata.tags",
            vec![json!([null, 5]), json!([r#"["x",1]"#, 1])],
        ),
        (
            "metadata.run",
            vec![
                json!([null, 4]),
                json!([r#"{"id":"r1","seed":7}"#, 1]),
                json!([r#"{"id":"r2","seed":7}"#, 1]),
            ],
        ),
        // Nested: a path down through objects; a key with a dot in it wins.
        (
            "metadata.run.id",
            vec![json!([null, 4]), json!(["r1", 1]), json!(["r2", 1])],
        ),
        (
            "metadata.a.b",
            vec![json!([null, 4]), json!(["deep", 1]), json!(["flat", 1])],
        ),
        // Several keys, with the other dimensions.
        (
            "metadata.job,model,metadata.run.seed",
            vec![
                json!([null, "zai-org/GLM-5.3", null, 3]),
                json!(["eval", "zai-org/GLM-5.3", "7", 2]),
                json!(["train", "zai-org/GLM-5.3", null, 1]),
            ],
        ),
    ];
    let outs = exports(dir.path()).await;
    for out in &outs {
        for (by, want) in &cases {
            assert_eq!(
                &rows(out, by).await,
                want,
                "--by {by} over {}",
                out.display()
            );
        }
    }
    // The groups' costs add up to the report's whole.
    let got = run(&[
        "cost",
        outs[1].to_str().unwrap(),
        "--by",
        "metadata.job",
        "--json",
    ])
    .await;
    let report: Value = serde_json::from_str(&got.stdout).unwrap();
    let sum: f64 = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cost_usd"].as_f64().unwrap())
        .sum();
    let total = report["total"]["cost_usd"].as_f64().unwrap();
    assert!(total > 0.0 && (sum - total).abs() < 1e-9, "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_table_and_csv_name_the_key_and_show_none() {
    let dir = tempfile::tempdir().unwrap();
    let outs = exports(dir.path()).await;
    let table = run(&["cost", outs[0].to_str().unwrap(), "--by", "metadata.job"]).await;
    assert_eq!(table.code, 0, "{table:?}");
    assert!(table.stdout.contains("metadata.job"), "{}", table.stdout);
    let none = table.stdout.lines().find(|l| l.contains("(none)"));
    assert!(none.is_some_and(|l| l.contains(" 3 ")), "{}", table.stdout);
    let csv = run(&[
        "cost",
        outs[2].to_str().unwrap(),
        "--by",
        "metadata.job",
        "--format",
        "csv",
    ])
    .await;
    assert_eq!(csv.code, 0, "{csv:?}");
    assert!(
        csv.stdout.starts_with("metadata.job,requests,"),
        "{}",
        csv.stdout
    );
}

#[tokio::test]
async fn a_bad_metadata_key_exits_2_and_help_lists_the_new_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("none.sqlite");
    for by in ["metadata.", "metadata.job,metadata.job"] {
        let got = run(&["cost", db.to_str().unwrap(), "--by", by]).await;
        assert_eq!(got.code, 2, "{by}: {got:?}");
        assert!(got.stderr.contains("--by"), "{by}: {got:?}");
    }
    let help = run(&["cost", "--help"]).await;
    for key in ["label ", "metadata.KEY "] {
        let line = help
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or_else(|| panic!("no line for '{key}' in:\n{}", help.stdout));
        assert!(line.contains("--by "), "no example for '{key}': {line}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_documented_duckdb_and_sqlite_queries_give_the_same_groups() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let outs = exports(dir.path()).await;
    let costs = dir.path().join("costs.parquet");
    let got = run(&[
        "cost",
        outs[1].to_str().unwrap(),
        "--rows",
        "-o",
        costs.to_str().unwrap(),
    ])
    .await;
    assert_eq!(got.code, 0, "{got:?}");
    let report = run(&[
        "cost",
        outs[0].to_str().unwrap(),
        "--by",
        "metadata.job",
        "--json",
    ])
    .await;
    let report: Value = serde_json::from_str(&report.stdout).unwrap();
    // [job, requests, cost rounded to 4 places as the table shows it]
    let want: Vec<Value> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let cost = (r["cost_usd"].as_f64().unwrap() * 1e4).round() / 1e4;
            json!([r["metadata.job"], r["requests"], cost])
        })
        .collect();
    // The queries of docs/reference.md, as written there but for the file names.
    let script = r#"
import sys, json, sqlite3, duckdb, os
os.chdir(sys.argv[3])
q = """SELECT json_extract_string(r.metadata_json, '$.job') AS job, COUNT(*) AS requests,
       ROUND(SUM(c.cost_usd), 4) AS cost_usd
FROM 'm.parquet' r JOIN 'costs.parquet' c USING (batch_id, custom_id) GROUP BY job"""
d = sorted([list(r) for r in duckdb.sql(q).fetchall()], key=lambda r: (r[0] is not None, r[0] or ""))
c = sqlite3.connect(sys.argv[1])
q = """SELECT json_extract(r.metadata_json, '$.job') AS job, COUNT(*) AS requests,
       ROUND(SUM(c.cost_usd), 4) AS cost_usd
FROM result_costs c JOIN results r USING (batch_id, custom_id) GROUP BY job"""
s = sorted([list(r) for r in c.execute(q)], key=lambda r: (r[0] is not None, r[0] or ""))
print(json.dumps({"duckdb": d, "sqlite": s}))
"#;
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(&outs[0])
        .arg(&outs[1])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["duckdb"], json!(want));
    assert_eq!(got["sqlite"], json!(want));
}
