//! Counts are stored exactly or not at all: through the real binary, a value that is not
//! exactly an integer in i64 range is NULL in both sinks, named in `dropped_fields`, kept in
//! `raw_json`, counted by the fetch summary and by `cost` as an anomaly. Parquet exports
//! written before the column existed keep working.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use serde_json::{json, Map, Value};
use wiremock::{MockServer, ResponseTemplate};

use sail_export::row::{FetchState, Row};
use sail_export::sink::parquet::{schema, writer_properties};

use crate::harness::*;

const BATCH: &str = "batch_n";

/// A completed response whose usage, `created_at` and `max_output_tokens` are the given
/// JSON texts, written as they are (a `Value` could not hold `2**70` exactly).
fn body(id: &str, created_at: &str, usage: &str, max_output_tokens: &str) -> String {
    format!(
        r#"{{"id":"resp_{id}","object":"response","created_at":{created_at},"status":"completed",
"model":"zai-org/GLM-5.3","metadata":{{"completion_window":"flex"}},
"output":[{{"type":"message","content":[{{"type":"output_text","text":"hi {id}"}}]}}],
"usage":{usage},"max_output_tokens":{max_output_tokens}}}"#
    )
}

/// Bodies by id, and what each row must hold: the integer columns (absent = NULL) and
/// `dropped_fields`.
fn cases() -> Vec<(&'static str, String, Value)> {
    vec![
        (
            "huge",
            body(
                "huge",
                "1764000000",
                r#"{"input_tokens":1180591620717411303424,"output_tokens":-1180591620717411303424,
                   "total_tokens":18446744073709551616,"prompt_tokens":1.5e300,
                   "completion_tokens":12.5,
                   "input_tokens_details":{"cached_tokens":true,"reasoning_tokens":[1]},
                   "output_tokens_details":{"cached_tokens":{"n":1},"reasoning_tokens":"1e3"}}"#,
                r#""64k""#,
            ),
            json!({"created_at": 1_764_000_000, "dropped_fields":
                "usage.input_tokens,usage.input_tokens_details.cached_tokens,\
                 usage.input_tokens_details.reasoning_tokens,usage.output_tokens,\
                 usage.output_tokens_details.cached_tokens,\
                 usage.output_tokens_details.reasoning_tokens,usage.total_tokens,\
                 usage.prompt_tokens,usage.completion_tokens,max_output_tokens"}),
        ),
        (
            "exact",
            body(
                "exact",
                "1764000000.0",
                r#"{"input_tokens":"12","output_tokens":3.0,"total_tokens":1.5e1,
                   "prompt_tokens":"-0","completion_tokens":1e3,
                   "input_tokens_details":{"cached_tokens":0.0,"reasoning_tokens":null},
                   "output_tokens_details":{"cached_tokens":"+2","reasoning_tokens":1E+0}}"#,
                "9223372036854775807",
            ),
            json!({"created_at": 1_764_000_000, "input_tokens": 12, "output_tokens": 3,
                   "total_tokens": 15, "prompt_tokens": 0, "completion_tokens": 1000,
                   "input_cached_tokens": 0, "output_cached_tokens": 2,
                   "output_reasoning_tokens": 1, "max_output_tokens": i64::MAX}),
        ),
        (
            "shapes",
            body("shapes", "true", "[1,2]", "-9223372036854775809"),
            json!({"dropped_fields": "created_at,usage,max_output_tokens"}),
        ),
        (
            "plain",
            body(
                "plain",
                "1764000001",
                r#"{"input_tokens":100,"output_tokens":20,"total_tokens":120,
                   "input_tokens_details":{"cached_tokens":10}}"#,
                "null",
            ),
            json!({"created_at": 1_764_000_001, "input_tokens": 100, "output_tokens": 20,
                   "total_tokens": 120, "input_cached_tokens": 10}),
        ),
    ]
}

/// Every integer column of the export.
const INT_COLUMNS: &[&str] = &[
    "created_at",
    "input_tokens",
    "input_cached_tokens",
    "input_reasoning_tokens",
    "output_tokens",
    "output_cached_tokens",
    "output_reasoning_tokens",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "max_output_tokens",
];

/// Checks one stored row against its case: each integer column exact or NULL, the
/// dropped fields named, the body kept as received.
fn check_row(row: &Map<String, Value>, raw: &str, want: &Value) {
    let id = row["custom_id"].as_str().unwrap();
    for col in INT_COLUMNS {
        let expect = want.get(*col).cloned().unwrap_or(Value::Null);
        assert_eq!(row[*col], expect, "column {col} of '{id}'");
    }
    let dropped = want.get("dropped_fields").map(|d| {
        let d = d.as_str().unwrap();
        Value::String(d.split_whitespace().collect())
    });
    assert_eq!(
        row["dropped_fields"],
        dropped.unwrap_or(Value::Null),
        "dropped_fields of '{id}'"
    );
    assert_eq!(
        row["raw_json"], raw,
        "raw_json of '{id}' is the body as received"
    );
}

async fn serve(server: &MockServer, cases: &[(&str, String, Value)]) {
    for (id, text, _) in cases {
        let answer = ResponseTemplate::new(200).set_body_raw(text.clone(), "application/json");
        serve_one(server, BATCH, id, answer).await;
    }
}

/// The rows of a Parquet file as JSON maps (integers and text; timestamps as seconds).
fn parquet_rows(path: &Path) -> Vec<Map<String, Value>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        for i in 0..batch.num_rows() {
            let mut m = Map::new();
            for (f, col) in batch.schema().fields().iter().zip(batch.columns()) {
                let v = if col.is_null(i) {
                    Value::Null
                } else if let Some(a) = col.as_string_opt::<i32>() {
                    json!(a.value(i))
                } else if let Some(a) = col.as_primitive_opt::<Int64Type>() {
                    json!(a.value(i))
                } else if f.name() == "created_at" || f.name() == "fetched_at" {
                    let ms = col.as_primitive::<arrow_array::types::TimestampMillisecondType>();
                    json!(ms.value(i) / 1000)
                } else {
                    continue;
                };
                m.insert(f.name().clone(), v);
            }
            out.push(m);
        }
    }
    out
}

/// `cost --format json` of an export: its total's anomaly counts.
async fn anomalies(export: &Path) -> Value {
    let out = run(&["cost", export.to_str().unwrap(), "--format", "json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    report["total"]["anomalies"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn counts_are_exact_or_null_and_dropped_fields_are_named_in_both_sinks() {
    let server = MockServer::start().await;
    let cases = cases();
    serve(&server, &cases).await;
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<&str> = cases.iter().map(|c| c.0).collect();
    let m = manifest(dir.path(), &ids);
    for out_name in ["n.sqlite", "n.parquet"] {
        let path = dir.path().join(out_name);
        let out = fetch(&server, BATCH, &m, &path, &[]).await;
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(summary(&out)["dropped_fields"], 2, "{out:?}");
        assert!(
            out.stderr.contains(", 2 with dropped fields"),
            "the summary line counts them: {}",
            out.stderr
        );
        let rows = match out_name.ends_with(".sqlite") {
            true => query(&path, "SELECT * FROM results"),
            false => parquet_rows(&path),
        };
        assert_eq!(rows.len(), cases.len());
        for (id, text, want) in &cases {
            let row = rows.iter().find(|r| r["custom_id"] == *id).unwrap();
            check_row(row, text, want);
        }
        let a = anomalies(&path).await;
        assert_eq!(a["dropped_fields"], 2, "{out_name}: {a}");
        let table = run(&["cost", path.to_str().unwrap()]).await;
        assert!(
            table.stdout.contains("dropped_fields 2") || table.stderr.contains("dropped_fields 2"),
            "{table:?}"
        );
        let csv = run(&["cost", path.to_str().unwrap(), "--format", "csv"]).await;
        let mut lines = csv.stdout.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let col = header.iter().position(|h| *h == "dropped_fields").unwrap();
        let sum: u64 = lines
            .map(|l| l.split(',').nth(col).unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(sum, 2, "{}", csv.stdout);
    }
}

/// Writes `rows` as a Parquet export of the schema sail-export wrote before
/// `dropped_fields` existed: every column of today but the last two (`dropped_fields`,
/// `batch_label`), same writer settings.
fn write_old_export(path: &Path, rows: &[Row]) {
    let full = schema::to_batch(rows, &(0..rows.len()).collect::<Vec<_>>());
    let n = Row::COLUMNS.len() - 2;
    assert_eq!(Row::COLUMNS[n].name, "dropped_fields");
    let old = Arc::new(full.schema().project(&(0..n).collect::<Vec<_>>()).unwrap());
    let batch = RecordBatch::try_new(old.clone(), full.columns()[..n].to_vec()).unwrap();
    let mut w = ArrowWriter::try_new(
        File::create(path).unwrap(),
        old,
        Some(writer_properties(None)),
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn old_row(id: &str, input: i64) -> Row {
    let mut r = Row::bare(BATCH, id, FetchState::Fetched);
    r.model = Some("zai-org/GLM-5.3".into());
    r.created_at = Some(1_764_000_000);
    r.input_tokens = Some(input);
    r.output_tokens = Some(5);
    r
}

#[tokio::test(flavor = "multi_thread")]
async fn exports_written_before_dropped_fields_resume_load_and_price() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.parquet");
    write_old_export(&old, &[old_row("a_old", 7), old_row("b_old", 8)]);
    let cols = ParquetRecordBatchReaderBuilder::try_new(File::open(&old).unwrap())
        .unwrap()
        .schema()
        .fields()
        .len();
    assert_eq!(
        cols,
        Row::COLUMNS.len() - 2,
        "the fixture has the old column list"
    );

    // cost reads it, with no dropped fields.
    let a = anomalies(&old).await;
    assert_eq!(a["dropped_fields"], 0, "{a}");

    // load puts it into SQLite with NULL in the new column.
    let db = dir.path().join("loaded.sqlite");
    let out = run(&[
        "load",
        old.to_str().unwrap(),
        "--into",
        db.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    let rows = query(
        &db,
        "SELECT custom_id, input_tokens, dropped_fields FROM results ORDER BY 1",
    );
    assert_eq!(
        rows.iter()
            .map(|r| Value::Object(r.clone()))
            .collect::<Vec<_>>(),
        vec![
            json!({"custom_id": "a_old", "input_tokens": 7, "dropped_fields": null}),
            json!({"custom_id": "b_old", "input_tokens": 8, "dropped_fields": null}),
        ]
    );

    // A fetch resumes into it: the old rows are kept, the file gains the column.
    let server = MockServer::start().await;
    let cases = cases();
    serve(&server, &cases[2..]).await;
    let m = manifest(dir.path(), &["a_old", "shapes", "plain"]);
    let before = result_requests(&server, BATCH).await;
    let out = fetch(&server, BATCH, &m, &old, &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        summary(&out)["skipped"],
        1,
        "a_old was already fetched: {out:?}"
    );
    assert_eq!(result_requests(&server, BATCH).await - before, 2);
    let rows = parquet_rows(&old);
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["custom_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a_old", "b_old", "plain", "shapes"]);
    assert_eq!(rows[0]["input_tokens"], 7);
    assert_eq!(rows[0]["dropped_fields"], Value::Null);
    assert_eq!(
        rows[3]["dropped_fields"],
        "created_at,usage,max_output_tokens"
    );
    let a = anomalies(&old).await;
    assert_eq!(a["dropped_fields"], 1, "{a}");
}
