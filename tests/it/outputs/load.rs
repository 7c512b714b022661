//! `sail-export load`: Parquet exports into SQLite give the same table as a direct SQLite
//! export, several files merge by the upsert rule, and bad input exits 2 naming the file
//! and the column with the target database unchanged.

use std::path::{Path, PathBuf};

use serde_json::json;
use wiremock::MockServer;

use super::parquet::{load, py, table_without_fetched_at};
use crate::harness::*;
use sail_export::row::{FetchState, Row};
use sail_export::sink::{self, Format, RunStart};
use sail_export::summary::Summary;

/// Rows that set every column, with unicode, negatives, floats and NULLs mixed in.
/// `shift` changes every state and value but not the keys.
fn varied_rows(batch: &str, n: usize, shift: usize) -> Vec<Row> {
    (0..n)
        .map(|i| {
            let state = FetchState::ALL[(i + shift) % 4];
            let mut r = Row::bare(batch, &format!("c-{:03}", (i * 37) % 1000), state);
            r.http_status = Some(200 + (i + shift) as i64);
            r.attempts = Some(1 + (i % 3) as i64);
            r.fetch_error = (i % 4 == 3).then(|| format!("gave up ✗ {i}"));
            r.fetched_at = Some(1_764_100_000 + i as i64);
            r.response_id = Some(format!("resp_{i}"));
            r.status = Some(["completed", "failed", "incomplete"][i % 3].into());
            r.model = Some(["zai-org/GLM-5.3", "moonshotai/Kimi-K2.5"][i % 2].into());
            r.created_at = (i % 5 != 0).then_some(1_764_000_000 - i as i64);
            r.completion_window = Some("flex".into());
            r.input_tokens = Some(i as i64 * 1_000_000_007);
            r.input_cached_tokens = Some(-(i as i64));
            r.input_reasoning_tokens = None;
            r.output_tokens = Some(i as i64);
            r.output_cached_tokens = Some(0);
            r.output_reasoning_tokens = Some(i as i64 / 2);
            r.total_tokens = Some(i64::MAX - i as i64);
            r.prompt_tokens = (i % 2 == 0).then_some(7);
            r.completion_tokens = Some(8);
            r.output_text = Some(format!("réponse {i} — 日本語 \u{1F600}"));
            r.error_code = (i % 3 == 1).then(|| "server_error".into());
            r.error_message = (i % 3 == 1).then(|| "boom".into());
            r.incomplete_reason = (i % 3 == 2).then(|| "max_output_tokens".into());
            r.max_output_tokens = Some(2048);
            r.temperature = Some(if i % 2 == 0 {
                1.0
            } else {
                0.1 + i as f64 / 3.0
            });
            r.top_p = (i % 4 != 0).then_some(0.95);
            r.metadata_json = Some(json!({"job": i}).to_string());
            r.raw_json = Some(format!(
                "{{\"id\":\"resp_{i}\",\"pad\":\"{}\"}}",
                "x".repeat(i * 10)
            ));
            r
        })
        .collect()
}

/// Writes `rows` through the sink of `format` at `path`, in writes of `chunk` rows.
fn export(path: &Path, format: Format, rows: &[Row], chunk: usize) {
    let mut s = sink::open(path, format).unwrap();
    s.fetched_ids(&rows[0].batch_id).unwrap();
    s.begin_run(&RunStart {
        batch_id: rows[0].batch_id.clone(),
        started_at: 0,
        options_json: "{}".into(),
    })
    .unwrap();
    for c in rows.chunks(chunk) {
        s.write(c).unwrap();
    }
    s.finish(&Summary::default()).unwrap();
}

fn full_table(db: &Path) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let cols: Vec<String> = Row::COLUMNS
        .iter()
        .map(|c| format!("{0}, typeof({0}) AS t_{0}", c.name))
        .collect();
    query(
        db,
        &format!(
            "SELECT {} FROM results ORDER BY batch_id, custom_id",
            cols.join(", ")
        ),
    )
}

#[test]
fn loading_a_parquet_export_gives_the_table_a_sqlite_export_of_the_same_rows_gives() {
    let dir = tempfile::tempdir().unwrap();
    // Duplicate keys across writes exercise the upsert rule on both paths.
    let mut rows = varied_rows("batch_same", 300, 0);
    rows.extend(varied_rows("batch_same", 120, 1).into_iter().rev());
    rows.extend(varied_rows("batch_other", 40, 2));
    let direct = dir.path().join("direct.sqlite");
    export(&direct, Format::Sqlite, &rows, 7);
    let pq = dir.path().join("x.parquet");
    export(&pq, Format::Parquet, &rows, 7);
    let loaded = dir.path().join("loaded.sqlite");
    let mut conn = sail_export::sink::sqlite::open(&loaded).unwrap();
    let read = sail_export::export::load::into_sqlite(&mut conn, &[pq]).unwrap();
    drop(conn);
    let (a, b) = (full_table(&direct), full_table(&loaded));
    assert_eq!(read as usize, a.len(), "one Parquet row per key");
    assert_eq!(a.len(), 300 + 40, "300 ids of one batch, 40 of another");
    assert_eq!(a, b);
}

#[tokio::test(flavor = "multi_thread")]
async fn fetching_to_parquet_and_loading_matches_fetching_to_sqlite() {
    let server = MockServer::start().await;
    let items: Vec<(String, serde_json::Value)> = (0..20)
        .map(|i| {
            (
                format!("id-{i:02}"),
                completed(&format!("id-{i:02}"), 10 * i, i, 5 * i, i % 3),
            )
        })
        .collect();
    let refs: Vec<(&str, serde_json::Value)> =
        items.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    serve_results(&server, "batch_cmp", &refs).await;
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<&str> = items
        .iter()
        .map(|(k, _)| k.as_str())
        .chain(["missing"])
        .collect();
    let m = manifest(dir.path(), &ids);
    let mut outs = Vec::new();
    for name in ["d.sqlite", "p.parquet"] {
        let o = dir.path().join(name);
        let r = fetch(&server, "batch_cmp", &m, &o, &[]).await;
        assert_eq!(r.code, 3, "{r:?}");
        outs.push(o);
    }
    let loaded = load(dir.path(), "l.sqlite", &[&outs[1]]).await;
    let (a, b) = (
        table_without_fetched_at(&outs[0]),
        table_without_fetched_at(&loaded),
    );
    assert_eq!(a.len(), 21);
    assert_eq!(a, b);
    let t = query(
        &loaded,
        "SELECT min(fetched_at) AS lo, max(fetched_at) AS hi FROM results",
    );
    let now = sail_export::time::now_unix();
    assert!((now - t[0]["lo"].as_i64().unwrap()).abs() < 300, "{t:?}");
    // A loaded export carries the price table too, so its cost view prices the same.
    let cost = "SELECT COUNT(cost_usd) AS priced, ROUND(SUM(cost_usd), 9) AS usd FROM result_costs";
    let (direct, via_load) = (query(&outs[0], cost), query(&loaded, cost));
    assert_eq!(direct[0]["priced"], 20, "{direct:?}");
    assert_eq!(direct, via_load);
}

#[tokio::test(flavor = "multi_thread")]
async fn several_files_load_in_order_and_a_later_non_fetched_row_never_replaces_a_fetched_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut old = Row::bare("b", "x", FetchState::Fetched);
    old.input_tokens = Some(1);
    let mut newer = Row::bare("b", "x", FetchState::Fetched);
    newer.input_tokens = Some(2);
    let failed = Row::bare("b", "x", FetchState::Error);
    let other = Row::bare("b", "y", FetchState::Pending);
    let files: Vec<PathBuf> = (0..3)
        .map(|i| dir.path().join(format!("f{i}.parquet")))
        .collect();
    export(&files[0], Format::Parquet, &[old, other], 10);
    export(&files[1], Format::Parquet, std::slice::from_ref(&newer), 10);
    export(&files[2], Format::Parquet, &[failed], 10);
    let db = load(dir.path(), "m.sqlite", &[&files[0], &files[1], &files[2]]).await;
    let rows = query(
        &db,
        "SELECT custom_id, fetch_state, input_tokens FROM results ORDER BY custom_id",
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["fetch_state"], "fetched");
    assert_eq!(rows[0]["input_tokens"], 2, "the later fetched row wins");
    assert_eq!(rows[1]["fetch_state"], "pending");
}

/// Writes a Parquet file with pyarrow from a Python expression building table `t` from
/// `good` (a pyarrow table of a real export).
fn pyarrow_variant(python: &Path, good: &Path, out: &Path, edit: &str) {
    let script = format!(
        "import sys, json, pyarrow as pa, pyarrow.parquet as pq\nt = pq.read_table(sys.argv[1])\n{edit}\npq.write_table(t, sys.argv[2])\nprint('{{}}')"
    );
    py(python, &script, &[good, out]);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_exits_2_naming_the_file_and_column_and_leaves_the_database_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.parquet");
    export(&good, Format::Parquet, &varied_rows("batch_good", 10, 0), 4);
    let second = dir.path().join("second.parquet");
    export(
        &second,
        Format::Parquet,
        &varied_rows("batch_second", 10, 0),
        4,
    );
    let db = load(dir.path(), "target.sqlite", &[&good]).await;
    let before = full_table(&db);
    assert_eq!(before.len(), 10);

    let not_parquet = dir.path().join("notes.parquet");
    std::fs::write(&not_parquet, "custom_id\nabc\n").unwrap();
    let mut cases: Vec<(PathBuf, Option<&str>)> = vec![(not_parquet.clone(), None)];
    if let Some(python) = python() {
        for (name, edit, col) in [
            ("missing.parquet", "t = t.drop_columns(['model'])", "model"),
            ("wrongtype.parquet", "t = t.set_column(t.schema.get_field_index('input_tokens'), 'input_tokens', pa.array(['1'] * t.num_rows))", "input_tokens"),
            ("nullkey.parquet", "t = t.set_column(1, 'custom_id', pa.array([None] * t.num_rows, pa.string()))", "custom_id"),
            ("badstate.parquet", "t = t.set_column(2, 'fetch_state', pa.array(['done'] * t.num_rows))", "fetch_state"),
        ] {
            let p = dir.path().join(name);
            pyarrow_variant(&python, &second, &p, edit);
            cases.push((p, Some(col)));
        }
    }
    for (bad, col) in &cases {
        // The good second file comes first, so a failure mid-load must roll it back.
        let out = run(&[
            "load",
            second.to_str().unwrap(),
            bad.to_str().unwrap(),
            "--into",
            db.to_str().unwrap(),
        ])
        .await;
        assert_eq!(out.code, 2, "{bad:?}: {out:?}");
        assert!(
            out.stderr.contains(&bad.display().to_string()),
            "names the file: {}",
            out.stderr
        );
        if let Some(col) = col {
            assert!(
                out.stderr.contains(&format!("'{col}'")),
                "names the column: {}",
                out.stderr
            );
        }
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        assert_eq!(full_table(&db), before, "{bad:?} changed the database");
    }

    // An existing output that is not ours is refused, and left as it was.
    let server = MockServer::start().await;
    let m = manifest(dir.path(), &["a"]);
    let out = fetch(
        &server,
        "batch_x",
        &m,
        &not_parquet,
        &["--format", "parquet"],
    )
    .await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("notes.parquet"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&not_parquet).unwrap(),
        "custom_id\nabc\n"
    );
}

/// Copies every file of `from` into `to` (created).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn a_kill_between_the_final_rename_and_the_cleanup_changes_nothing_on_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.parquet");
    let parts = dir.path().join(".r.parquet.parts");
    let rows = varied_rows("batch_r", 200, 0);
    export(&out, Format::Parquet, &rows[..50], 10);
    // A second run writes, then "dies" right after renaming its output into place: its
    // checkpoint is still there when the next run starts.
    let mut s = sink::open(&out, Format::Parquet).unwrap();
    for c in rows[50..].chunks(9) {
        s.write(c).unwrap();
    }
    let saved = dir.path().join("saved");
    copy_dir(&parts, &saved);
    s.finish(&Summary::default()).unwrap();
    drop(s);
    assert!(!parts.exists(), "finish removes the checkpoint");
    let load_table = |name: &str| {
        let db = dir.path().join(name);
        let mut conn = sail_export::sink::sqlite::open(&db).unwrap();
        sail_export::export::load::into_sqlite(&mut conn, std::slice::from_ref(&out)).unwrap();
        full_table(&db)
    };
    let complete = load_table("a.sqlite");
    assert_eq!(complete.len(), 200);
    copy_dir(&saved, &parts);
    let mut s = sink::open(&out, Format::Parquet).unwrap();
    assert_eq!(
        s.fetched_ids("batch_r").unwrap().len(),
        50,
        "a quarter of the rows are fetched"
    );
    s.finish(&Summary::default()).unwrap();
    assert_eq!(load_table("b.sqlite"), complete);
}

#[test]
fn row_groups_are_bounded_in_rows() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big.parquet");
    let rows: Vec<Row> = (0..9000)
        .map(|i| Row::bare("b", &format!("id-{i:05}"), FetchState::Fetched))
        .collect();
    export(&out, Format::Parquet, &rows, 1000);
    let got = py(
        &python,
        "import sys, json, pyarrow.parquet as pq\nm = pq.ParquetFile(sys.argv[1]).metadata\nprint(json.dumps([m.row_group(i).num_rows for i in range(m.num_row_groups)]))",
        &[&out],
    );
    let limit = sail_export::sink::parquet::ROW_GROUP_ROWS as u64;
    let groups: Vec<u64> = got
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(groups.iter().sum::<u64>(), 9000);
    assert!(
        groups.len() >= 3 && groups.iter().all(|&n| n <= limit),
        "{groups:?}"
    );
}
