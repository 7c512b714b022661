//! What a run records of its options: `fetch`, `sync` and `demo` write the same typed
//! object (runs.options_json, and the Parquet files' `sail_export.run`), which reads back
//! through `RunOptions`; the demo tells its own outputs by it, old exports' JSON included.

use std::path::Path;

use sail_export::fetch::{RunCommand, RunOptions};
use sail_export::sim::{Sim, SimConfig};

use crate::harness::*;

/// The options of every run logged in the SQLite export at `db`.
fn runs(db: &Path) -> Vec<RunOptions> {
    let rows = query(db, "SELECT options_json FROM runs");
    let json = |r: &serde_json::Map<_, _>| r["options_json"].as_str().unwrap().to_owned();
    rows.iter()
        .map(|r| RunOptions::read(&json(r)).expect("options read back"))
        .collect()
}

/// The options of the only run logged in the SQLite export at `db`.
fn logged(db: &Path) -> RunOptions {
    let mut runs = runs(db);
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs.remove(0)
}

/// The options in the Parquet file's metadata.
fn in_parquet(file: &Path) -> RunOptions {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(file).unwrap()).unwrap();
    let meta = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .unwrap();
    let run = meta.iter().find(|kv| kv.key == "sail_export.run").unwrap();
    RunOptions::read(run.value.as_deref().unwrap()).expect("options read back")
}

#[tokio::test(flavor = "multi_thread")]
async fn fetch_and_sync_record_their_options_alike_in_sqlite_and_parquet() {
    let sim = Sim::start(SimConfig {
        api_key: KEY.to_owned(),
        ..SimConfig::new(20)
    })
    .await
    .unwrap();
    let (base, batch) = (sim.base_url(), sim.batch_id().to_owned());
    let dir = tempfile::tempdir().unwrap();
    let (db, pq, all) = (
        dir.path().join("f.sqlite"),
        dir.path().join("f.parquet"),
        dir.path().join("all.sqlite"),
    );
    for out in [&db, &pq] {
        let o = out.to_str().unwrap();
        let args = ["fetch", &batch, "-o", o, "-j", "3", "--max-retries", "2"];
        let done = run(&[&args[..], &["--no-raw", "--base-url", &base]].concat()).await;
        assert!(done.stderr.contains("fetched"), "{done:?}");
    }
    let synced = run(&[
        "sync",
        "-o",
        all.to_str().unwrap(),
        "-j",
        "5",
        "--base-url",
        &base,
    ])
    .await;
    assert!(synced.stderr.contains("sync:"), "{synced:?}");

    let (fetch, parquet, syncs) = (logged(&db), in_parquet(&pq), runs(&all));
    for (o, format) in [(&fetch, "sqlite"), (&parquet, "parquet")] {
        assert_eq!((o.command, o.demo), (RunCommand::Fetch, false), "{o:?}");
        assert_eq!((o.format.as_str(), o.concurrency), (format, 3), "{o:?}");
        assert_eq!(
            (o.max_retries, o.raw, o.base_url.as_str()),
            (2, false, &*base)
        );
    }
    assert!(syncs.len() > 1, "one run per batch: {syncs:?}");
    for sync in &syncs {
        assert_eq!(
            (sync.command, sync.demo),
            (RunCommand::Sync, false),
            "{sync:?}"
        );
        assert_eq!((sync.format.as_str(), sync.concurrency), ("sqlite", 5));
        assert_eq!(
            (sync.max_retries, sync.raw, sync.base_url.as_str()),
            (6, true, &*base)
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_replaces_an_earlier_versions_demo_output_but_not_a_fetch_output() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.sqlite");
    let db_arg = db.to_str().unwrap();
    let first = run(&["demo", "--requests", "20", "--seed", "3", "-o", db_arg]).await;
    assert_eq!(first.code, 0, "{first:?}");
    let now = logged(&db);
    assert!(now.demo && now.seed == Some(3), "{now:?}");

    // What the demo of an earlier version wrote, and a fetch of one.
    let older_demo = r#"{"demo":true,"seed":42,"format":"sqlite","concurrency":32,"base_url":"http://127.0.0.1:9/v1"}"#;
    let a_fetch = r#"{"manifest":null,"format":"sqlite","concurrency":64,"raw":true,"base_url":"https://api.sailresearch.com/v1"}"#;
    let set = |json: &str| {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute("UPDATE runs SET options_json = ?1", [json])
            .unwrap();
    };
    set(older_demo);
    let again = run(&["demo", "--requests", "20", "-o", db_arg]).await;
    assert_eq!(
        again.code, 0,
        "an earlier demo's output is replaced: {again:?}"
    );
    assert!(
        again.stderr.contains("replacing the earlier demo output"),
        "{again:?}"
    );

    set(a_fetch);
    let before = std::fs::read(&db).unwrap();
    let refused = run(&["demo", "--requests", "20", "-o", db_arg]).await;
    assert_eq!(
        refused.code, 2,
        "a fetch's output is left alone: {refused:?}"
    );
    assert!(
        refused.stderr.contains("is not a demo output"),
        "{refused:?}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
}
