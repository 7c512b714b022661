//! Parquet exports end to end: the schema is the column list, real readers (pyarrow,
//! DuckDB) see the right types and values, a SIGKILL mid-run loses nothing committed and
//! leaves the previous file intact, and a rerun resumes without refetching.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use wiremock::MockServer;

use crate::harness::*;
use sail_export::row::{Kind, Row};

/// Ids `item-000`.. `item-{n-1}`.
fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("item-{i:03}")).collect()
}

/// Serves a completed result for each id (token counts vary with the index), after `delay`.
async fn serve(server: &TestApi, batch: &str, ids: &[String], delay: Duration) {
    for (i, id) in ids.iter().enumerate() {
        let i = i as i64;
        let body = completed(id, 100 + i, i, 50 + i, i % 7);
        server.result(batch, id, ok(body).set_delay(delay)).await;
    }
}

/// `fetch` of `ids` from `server` into `out`, plus extra flags.
fn fetch_args(
    server: &MockServer,
    batch: &str,
    ids: &Path,
    out: &Path,
    extra: &[&str],
) -> Vec<String> {
    let mut a: Vec<String> = [
        "fetch",
        batch,
        "-m",
        ids.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(["--base-url".to_string(), base(server)]);
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

async fn fetch(server: &MockServer, batch: &str, ids: &Path, out: &Path, extra: &[&str]) -> Output {
    know_every_batch(server).await;
    let a = fetch_args(server, batch, ids, out, extra);
    let out = run(&a.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_no_key(&out);
    out
}

fn write_manifest(dir: &Path, name: &str, ids: &[String]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, ids.join("\n")).unwrap();
    p
}

/// Runs a Python snippet (with pyarrow and duckdb) on `args`; its stdout parsed as JSON.
pub fn py(python: &Path, script: &str, args: &[&Path]) -> Value {
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

/// Loads Parquet files into a fresh SQLite file with the real binary; returns its path.
pub async fn load(dir: &Path, name: &str, files: &[&Path]) -> PathBuf {
    let db = dir.join(name);
    let mut a = vec!["load".to_string()];
    a.extend(files.iter().map(|f| f.display().to_string()));
    a.extend(["--into".to_string(), db.display().to_string()]);
    let out = run(&a.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("loaded"), "{out:?}");
    db
}

/// Every column of `results` except `fetched_at`, ordered by key.
pub fn table_without_fetched_at(db: &Path) -> Vec<serde_json::Map<String, Value>> {
    let cols: Vec<&str> = Row::COLUMNS
        .iter()
        .map(|c| c.name)
        .filter(|n| *n != "fetched_at")
        .collect();
    query(
        db,
        &format!(
            "SELECT {} FROM results ORDER BY batch_id, custom_id",
            cols.join(", ")
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_parquet_schema_is_the_column_list_and_real_readers_read_the_values() {
    let server = TestApi::start().await;
    let all = ids(5);
    serve(&server, "batch_pq", &all, Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let m = write_manifest(dir.path(), "ids.txt", &all);
    let out = dir.path().join("out.parquet");
    let o = fetch(&server, "batch_pq", &m, &out, &[]).await;
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        !dir.path().join(".out.parquet.parts").exists(),
        "checkpoint left behind"
    );
    let Some(python) = python() else { return };
    let got = py(&python, PYARROW_DUCKDB, &[&out]);
    let fields = got["fields"].as_array().unwrap();
    assert_eq!(fields.len(), Row::COLUMNS.len());
    let sqlite = sail_export::sink::sqlite::open(&dir.path().join("schema.sqlite")).unwrap();
    let mut stmt = sqlite
        .prepare("SELECT name, type, \"notnull\" FROM pragma_table_info('results') ORDER BY cid")
        .unwrap();
    let table: Vec<(String, String, bool)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for ((f, col), (name, sql_type, notnull)) in fields.iter().zip(Row::COLUMNS).zip(&table) {
        assert_eq!(f["name"], col.name);
        assert_eq!(name, col.name, "sqlite column order");
        let (arrow, sql) = match col.kind {
            Kind::Text => ("string", "TEXT"),
            Kind::Int => ("int64", "INTEGER"),
            Kind::Real => ("double", "REAL"),
            Kind::Time => ("timestamp[ms, tz=UTC]", "INTEGER"),
        };
        assert_eq!(f["type"], arrow, "arrow type of {}", col.name);
        assert_eq!(sql_type, sql, "sqlite type of {}", col.name);
        assert_eq!(
            f["nullable"],
            json!(col.nullable),
            "nullability of {}",
            col.name
        );
        assert_eq!(
            *notnull, !col.nullable,
            "sqlite nullability of {}",
            col.name
        );
    }
    // zstd, except for columns of a handful of values that it would not shrink; statistics,
    // except on free text and JSON (the layout the README gives).
    let plain = [
        "batch_id",
        "fetch_state",
        "http_status",
        "attempts",
        "max_output_tokens",
        "temperature",
        "top_p",
    ];
    let no_stats = ["output_text", "metadata_json", "raw_json"];
    for col in Row::COLUMNS {
        let want = if plain.contains(&col.name) {
            "UNCOMPRESSED"
        } else {
            "ZSTD"
        };
        assert_eq!(got["compression"][col.name], want, "codec of {}", col.name);
        assert_eq!(
            got["has_stats"][col.name],
            json!(!no_stats.contains(&col.name)),
            "statistics of {}",
            col.name
        );
    }
    let row = &got["row3"];
    assert_eq!(row["custom_id"], "item-003");
    assert_eq!(row["fetch_state"], "fetched");
    assert_eq!(row["input_tokens"], 103);
    assert_eq!(row["input_cached_tokens"], 3);
    assert_eq!(row["output_reasoning_tokens"], 3);
    assert_eq!(row["temperature"], 0.7);
    assert_eq!(row["created_at"], 1_764_000_000.0);
    assert_eq!(row["output_text"], "answer for item-003");
    assert_eq!(row["completion_window"], "flex");
    let duck = &got["duckdb"];
    let types = duck["types"].as_array().unwrap();
    assert_eq!(types.len(), Row::COLUMNS.len());
    for (t, col) in types.iter().zip(Row::COLUMNS) {
        let want = match col.kind {
            Kind::Text => "VARCHAR",
            Kind::Int => "BIGINT",
            Kind::Real => "DOUBLE",
            Kind::Time => "TIMESTAMP WITH TIME ZONE",
        };
        assert_eq!(t, &json!([col.name, want]), "duckdb type of {}", col.name);
    }
    assert_eq!(duck["rows"], 5);
    assert_eq!(duck["input_sum"], 100 + 101 + 102 + 103 + 104);
    assert_eq!(duck["created_type"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(duck["created_epoch"], 1_764_000_000.0);
    assert_eq!(
        duck["ids"],
        json!(["item-000", "item-001", "item-002", "item-003", "item-004"])
    );
}

const PYARROW_DUCKDB: &str = r#"
import json, sys
import pyarrow.parquet as pq, duckdb
path = sys.argv[1]
f = pq.ParquetFile(path)
t = f.read()
rg = f.metadata.row_group(0)
cols = [rg.column(i) for i in range(rg.num_columns)]
r = {c: t.column(c)[3].as_py() for c in t.column_names}
r["created_at"] = r["created_at"].timestamp()
r["fetched_at"] = r["fetched_at"].timestamp()
con = duckdb.connect()
described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [path]).fetchall()
q = con.execute("SELECT count(*), sum(input_tokens), any_value(typeof(created_at)), min(epoch(created_at)), list(custom_id ORDER BY custom_id) FROM read_parquet(?)", [path]).fetchone()
print(json.dumps({
  "fields": [{"name": x.name, "type": str(x.type), "nullable": x.nullable} for x in t.schema],
  "compression": {c.path_in_schema: c.compression for c in cols},
  "has_stats": {c.path_in_schema: c.is_stats_set for c in cols},
  "row3": r,
  "duckdb": {"types": [[d[0], d[1]] for d in described], "rows": q[0], "input_sum": q[1], "created_type": q[2], "created_epoch": q[3], "ids": q[4]},
}, default=str))
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_rerun_skips_fetched_ids_and_a_failed_refetch_keeps_the_fetched_row() {
    let server = TestApi::start().await;
    let all = ids(6);
    serve(&server, "batch_re", &all[..4], Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("re.parquet");
    let first = write_manifest(dir.path(), "first.txt", &all[..4]);
    assert_eq!(fetch(&server, "batch_re", &first, &out, &[]).await.code, 0);

    // Second run: 4 ids fetched already, 2 new ones of which one is a 404.
    let second = TestApi::start().await;
    serve(&second, "batch_re", &all[..5], Duration::ZERO).await;
    let m = write_manifest(dir.path(), "all.txt", &all);
    let o = fetch(&second, "batch_re", &m, &out, &["--json"]).await;
    assert_eq!(o.code, 3, "{o:?}");
    let reqs = second.received_requests().await.unwrap();
    // Results only: the batch status call (GET /v1/batches/batch_re) is not a result.
    let asked: Vec<&str> = reqs
        .iter()
        .map(|r| r.url.path())
        .filter(|p| p.starts_with("/v1/batches/batch_re/"))
        .collect();
    assert_eq!(
        asked.len(),
        2,
        "only the two new ids are requested: {asked:?}"
    );
    assert!(
        asked
            .iter()
            .all(|p| p.ends_with("item-004") || p.ends_with("item-005")),
        "{asked:?}"
    );

    // Third run refetches everything from a server that knows nothing: 404s must not
    // replace fetched rows.
    let empty = TestApi::start().await;
    let o = fetch(&empty, "batch_re", &m, &out, &["--refetch-all"]).await;
    assert_eq!(o.code, 3, "{o:?}");
    let db = load(dir.path(), "re.sqlite", &[&out]).await;
    let rows = query(
        &db,
        "SELECT custom_id, fetch_state, input_tokens FROM results ORDER BY custom_id",
    );
    let states: Vec<&str> = rows
        .iter()
        .map(|r| r["fetch_state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        [
            "fetched",
            "fetched",
            "fetched",
            "fetched",
            "fetched",
            "not_found"
        ]
    );
    assert_eq!(rows[4]["input_tokens"], 104);
}

/// How many complete checkpoint parts the run on `out` has committed.
fn committed_parts(out: &Path) -> usize {
    let dir = out.with_file_name(format!(
        ".{}.parts",
        out.file_name().unwrap().to_string_lossy()
    ));
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "arrow")
            })
            .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sigkill_mid_run_keeps_the_previous_file_and_a_rerun_completes_it_without_refetching() {
    let all = ids(80);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k.parquet");
    // A previous complete export of the first 10 ids.
    let fast = TestApi::start().await;
    serve(&fast, "batch_k", &all, Duration::ZERO).await;
    let first = write_manifest(dir.path(), "first.txt", &all[..10]);
    assert_eq!(fetch(&fast, "batch_k", &first, &out, &[]).await.code, 0);
    let before = std::fs::read(&out).unwrap();

    // A slow run over all ids, killed once some rows are checkpointed.
    let slow = TestApi::start().await;
    serve(&slow, "batch_k", &all, Duration::from_millis(150)).await;
    know_every_batch(&slow).await;
    let m = write_manifest(dir.path(), "all.txt", &all);
    let a = fetch_args(&slow, "batch_k", &m, &out, &["-j", "4"]);
    let mut child = command(&a.iter().map(String::as_str).collect::<Vec<_>>())
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    while committed_parts(&out) == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no checkpoint part appeared"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.start_kill().unwrap(); // SIGKILL
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), None, "killed by a signal, not finished");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        before,
        "the previous complete file is intact"
    );

    // What the killed run committed: the rerun must not ask for it again.
    let mut sink = sail_export::sink::open(&out, sail_export::sink::Format::Parquet).unwrap();
    let done = sink.fetched_ids("batch_k").unwrap();
    drop(sink);
    assert!(
        done.len() > 10 && done.len() < all.len(),
        "{} fetched before the kill",
        done.len()
    );
    let rerun = TestApi::start().await;
    serve(&rerun, "batch_k", &all, Duration::ZERO).await;
    assert_eq!(fetch(&rerun, "batch_k", &m, &out, &[]).await.code, 0);
    let reqs: Vec<_> = rerun
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().starts_with("/v1/batches/batch_k/"))
        .collect();
    assert_eq!(reqs.len(), all.len() - done.len());
    for r in &reqs {
        let id = r.url.path().rsplit('/').next().unwrap();
        assert!(!done.contains(id), "{id} was fetched again");
    }

    // The same table as a clean run, one row per id.
    let clean = dir.path().join("clean.parquet");
    assert_eq!(fetch(&fast, "batch_k", &m, &clean, &[]).await.code, 0);
    let a = load(dir.path(), "a.sqlite", &[&out]).await;
    let b = load(dir.path(), "b.sqlite", &[&clean]).await;
    let (ta, tb) = (table_without_fetched_at(&a), table_without_fetched_at(&b));
    assert_eq!(ta.len(), all.len());
    assert_eq!(ta, tb);
}
