//! At scale: Hive-partitioned datasets on disk and on a real S3-compatible server (moto),
//! `--shard`, and `sync` of a whole simulated account, read back by DuckDB and pyarrow.

mod dataset;
mod losses;
mod s3;
mod s3_cost;
mod shards;
mod sync;
mod sync_signal;

use std::path::{Path, PathBuf};
use std::time::Duration;

use sail_export::sim::{Dataset, ItemKind, Sim, SimConfig, SimHandle};
use serde_json::Value;

use crate::harness::*;

/// The simulator with the harness key and no faults: `items` items in each of `batches`
/// batches. With `all_final`, a seed is chosen under which no result is past retention,
/// and unfinished items complete at once: every batch can be complete.
pub async fn sim(items: u64, batches: usize, all_final: bool) -> SimHandle {
    sim_at(items, batches, all_final, Duration::ZERO).await
}

/// [`sim`] answering each request after `latency`.
pub async fn sim_at(items: u64, batches: usize, all_final: bool, latency: Duration) -> SimHandle {
    let mut cfg = SimConfig {
        api_key: KEY.to_owned(),
        batches,
        latency,
        ..SimConfig::new(items)
    };
    if all_final {
        cfg.seed = (1..)
            .find(|&seed| {
                let d = Dataset::new(seed, items, batches, cfg.epoch);
                (0..batches).all(|b| (0..items).all(|i| d.kind(b, i) != ItemKind::Expired))
            })
            .expect("a seed without expired results");
        cfg.finish_after = Some(Duration::from_millis(1));
    }
    Sim::start(cfg).await.unwrap()
}

/// The ids of every batch of the simulated account, the main one first.
pub fn batch_ids(sim: &SimHandle) -> Vec<String> {
    let d = sim.dataset();
    (0..d.batches()).map(|b| d.batch_id(b).to_owned()).collect()
}

/// `sail-export ARGS --base-url <sim>`.
pub fn sail(sim: &SimHandle, args: &[&str]) -> tokio::process::Command {
    let base = sim.base_url();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--base-url", &base]);
    command(&all)
}

/// Runs `sail-export ARGS --base-url <sim>` to completion.
pub async fn run_sail(sim: &SimHandle, args: &[&str]) -> Output {
    output(sail(sim, args)).await
}

/// Runs a Python script (`sys.argv[1:]` = `args`) that prints one JSON value; `None` when
/// the reader checks are skipped.
pub fn py_json(script: &str, args: &[&str]) -> Option<Value> {
    let paths: Vec<&Path> = args.iter().map(Path::new).collect();
    Some(crate::outputs::parquet::py(&python()?, script, &paths))
}

/// Per batch: rows, distinct custom_ids, and fetched rows, as DuckDB reads the dataset
/// with Hive partitioning; plus the type DuckDB gives batch_id and whether any file is
/// unreadable (a half-written file would be).
pub const DUCKDB_COUNTS: &str = r#"
import json, sys, duckdb
q = f"""SELECT batch_id, count(*) AS n, count(DISTINCT custom_id) AS ids,
        count(*) FILTER (WHERE fetch_state = 'fetched') AS fetched, typeof(any_value(batch_id)) AS t
        FROM read_parquet('{sys.argv[1]}/**/*.parquet', hive_partitioning = true)
        GROUP BY batch_id ORDER BY batch_id"""
print(json.dumps({r[0]: {"rows": r[1], "ids": r[2], "fetched": r[3], "type": r[4]}
                  for r in duckdb.sql(q).fetchall()}))
"#;

/// The same through `pyarrow.dataset(..., partitioning="hive")`, plus the schema's names.
pub const PYARROW_COUNTS: &str = r#"
import json, sys, collections
import pyarrow.dataset as ds
d = ds.dataset(sys.argv[1], format="parquet", partitioning="hive")
t = d.to_table(columns=["batch_id", "custom_id", "fetch_state"]).to_pylist()
per = collections.defaultdict(lambda: {"rows": 0, "ids": set(), "fetched": 0})
for r in t:
    p = per[r["batch_id"]]
    p["rows"] += 1; p["ids"].add(r["custom_id"]); p["fetched"] += r["fetch_state"] == "fetched"
print(json.dumps({"schema": d.schema.names, "type": str(d.schema.field("batch_id").type),
                  "batches": {b: {"rows": p["rows"], "ids": len(p["ids"]), "fetched": p["fetched"]}
                              for b, p in per.items()}}))
"#;

/// The finished data files of a batch's partition.
pub fn parts(root: &Path, batch: &str) -> Vec<PathBuf> {
    let dir = root.join(format!("batch_id={batch}"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| {
        let n = p.file_name().unwrap().to_string_lossy();
        n.starts_with("part-") && n.ends_with(".parquet")
    });
    files.sort();
    files
}

/// Result requests (`GET /batches/{id}/{custom_id}`) the simulator answered so far.
pub fn result_gets(sim: &SimHandle) -> u64 {
    let s = sim.stats();
    s.result_requests
}

/// Checks that a rerun of a 1,500-item batch resumed a killed run: it asked `asked` result
/// requests, fewer than a fresh run would (every id but the unfinished ones, which are
/// pending, not requested), and with the `before_kill` of the killed run covers them all.
pub fn assert_resumed(rerun: &Output, asked: u64, before_kill: u64) {
    let fresh = 1500 - summary(rerun)["pending"].as_u64().unwrap();
    assert!(
        asked < fresh && asked + before_kill >= fresh,
        "the rerun asked {asked} of {fresh} after {before_kill} before the kill"
    );
}

/// Starts `cmd` (its output not read, so it cannot stall on a full pipe), waits until the
/// simulator has answered `results` more result requests, and SIGKILLs it (no cleanup runs).
/// Returns how many result requests it made.
pub async fn kill_after(sim: &SimHandle, mut cmd: tokio::process::Command, results: u64) -> u64 {
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let before = result_gets(sim);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while result_gets(sim) < before + results {
        assert!(
            std::time::Instant::now() < deadline,
            "the run to kill made no progress"
        );
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run to kill ended by itself: {status}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    result_gets(sim) - before
}
