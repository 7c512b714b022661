//! A dataset folder of several batches: a kill in the middle of one leaves nothing a reader
//! would pick up half-written; the rerun resumes; DuckDB and pyarrow read one row per id
//! with `batch_id` from the folder names; `load` and `cost` take the folder.

use std::time::Duration;

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn several_batches_and_a_kill_read_back_once_per_id_in_duckdb_and_pyarrow() {
    let sim = sim_at(1500, 3, false, Duration::from_millis(5)).await;
    let ids = batch_ids(&sim);
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    let root = format!("{}/", ds.display());

    let out = run_sail(&sim, &["fetch", &ids[0], "-o", &root, "--no-raw"]).await;
    assert!(matches!(out.code, 0 | 3), "{out:?}");
    assert_eq!(parts(&ds, &ids[0]).len(), 1, "one file per run");

    // A run killed mid-way (SIGKILL: no cleanup) publishes nothing of its batch.
    let kill = sail(&sim, &["fetch", &ids[1], "-o", &root, "-j", "4"]);
    let requested_before_kill = kill_after(&sim, kill, 200).await;
    assert!(
        parts(&ds, &ids[1]).is_empty(),
        "nothing published by a killed run"
    );
    if let Some(counts) = py_json(DUCKDB_COUNTS, &[ds.to_str().unwrap()]) {
        assert_eq!(counts.as_object().unwrap().len(), 1, "{counts}");
        assert_eq!(counts[&ids[0]]["rows"], 1500, "{counts}");
    }

    // The rerun resumes from the killed run's checkpoint: those ids are not asked again.
    let before = result_gets(&sim);
    let out = run_sail(&sim, &["fetch", &ids[1], "-o", &root, "--json"]).await;
    assert!(matches!(out.code, 0 | 3), "{out:?}");
    assert_resumed(&out, result_gets(&sim) - before, requested_before_kill);
    let out = run_sail(&sim, &["fetch", &ids[2], "-o", &root]).await;
    assert!(matches!(out.code, 0 | 3), "{out:?}");

    let no_tmp = walk(&ds)
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().ends_with(".tmp"))
        .collect::<Vec<_>>();
    assert!(no_tmp.is_empty(), "temporary files left: {no_tmp:?}");

    if let Some(counts) = py_json(DUCKDB_COUNTS, &[ds.to_str().unwrap()]) {
        for id in &ids {
            let c = &counts[id];
            assert_eq!(
                (c["rows"].as_u64(), c["ids"].as_u64()),
                (Some(1500), Some(1500)),
                "{counts}"
            );
            assert_eq!(c["type"], "VARCHAR", "{counts}");
        }
    }
    if let Some(got) = py_json(PYARROW_COUNTS, &[ds.to_str().unwrap()]) {
        assert_eq!(got["type"], "string", "{got}");
        let names: Vec<&str> = got["schema"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            names.iter().filter(|n| **n == "batch_id").count(),
            1,
            "{names:?}"
        );
        assert_eq!(
            names.len(),
            sail_export::row::Row::COLUMNS.len(),
            "{names:?}"
        );
        for id in &ids {
            assert_eq!(got["batches"][id]["ids"], 1500, "{got}");
            assert_eq!(got["batches"][id]["rows"], 1500, "{got}");
        }
    }

    // `load` and `cost` take the dataset folder: every row, the same figures.
    let db = dir.path().join("all.sqlite");
    let out = run(&["load", ds.to_str().unwrap(), "-o", db.to_str().unwrap()]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let rows = query(
        &db,
        "SELECT batch_id, count(*) AS n FROM results GROUP BY 1 ORDER BY 1",
    );
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["n"] == 1500), "{rows:?}");
    let cost_of = |p: String| async move {
        let out = run(&["cost", &p, "--format", "json"]).await;
        assert_eq!(out.code, 0, "{out:?}");
        serde_json::from_str::<Value>(&out.stdout).unwrap()["total"].clone()
    };
    let from_ds = cost_of(ds.display().to_string()).await;
    let from_db = cost_of(db.display().to_string()).await;
    assert_eq!(from_ds, from_db);
    assert!(from_ds["requests"].as_u64().unwrap() > 4000, "{from_ds}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rerun_replaces_pending_rows_so_each_id_stays_once() {
    let sim = sim(400, 1, false).await;
    let b = sim.batch_id().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    let root = format!("{}/", ds.display());
    let out = run_sail(&sim, &["fetch", &b, "-o", &root, "--json"]).await;
    assert_eq!(out.code, 3, "unfinished items: {out:?}");
    let first = summary(&out);
    assert!(first["pending"].as_u64().unwrap() > 0, "{first}");
    let first_parts = parts(&ds, &b);
    assert_eq!(first_parts.len(), 1);

    sim.finish_within(Duration::from_millis(1));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let out = run_sail(&sim, &["fetch", &b, "-o", &root, "--json"]).await;
    let second = summary(&out);
    assert_eq!(second["pending"], 0, "{out:?}");
    let now = parts(&ds, &b);
    assert_eq!(now.len(), 1, "the replaced file is gone: {now:?}");
    assert_ne!(now, first_parts);
    let meta = ds.join("_sail_export");
    assert!(
        walk(&meta)
            .iter()
            .all(|p| !p.to_string_lossy().contains("commit-")),
        "no journal left"
    );
    if let Some(counts) = py_json(DUCKDB_COUNTS, &[ds.to_str().unwrap()]) {
        assert_eq!(counts[&b]["rows"], 400, "{counts}");
        assert_eq!(counts[&b]["ids"], 400, "{counts}");
        assert_eq!(counts[&b]["fetched"], second["fetched"], "{counts}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_output_names_a_dataset_by_a_slash_a_folder_or_the_format() {
    let sim = sim(20, 1, true).await;
    let b = sim.batch_id().to_owned();
    let dir = tempfile::tempdir().unwrap();
    // An existing folder without a slash, and --format dataset with a new folder.
    let existing = dir.path().join("existing");
    std::fs::create_dir(&existing).unwrap();
    let fresh = dir.path().join("fresh");
    for args in [
        vec!["fetch", &b, "-o", existing.to_str().unwrap()],
        vec![
            "fetch",
            &b,
            "-o",
            fresh.to_str().unwrap(),
            "--format",
            "dataset",
        ],
    ] {
        let out = run_sail(&sim, &args).await;
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
    }
    assert_eq!(parts(&existing, &b).len(), 1);
    assert_eq!(parts(&fresh, &b).len(), 1);
    assert!(fresh
        .join("_sail_export")
        .join(&b)
        .join("complete.json")
        .is_file());

    // A folder is never taken for a file, nor a missing parent made.
    let out = run_sail(
        &sim,
        &[
            "fetch",
            &b,
            "-o",
            existing.to_str().unwrap(),
            "--format",
            "sqlite",
        ],
    )
    .await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("dataset"), "{}", out.stderr);
    let deep = format!("{}/no/such/ds/", dir.path().display());
    let out = run_sail(&sim, &["fetch", &b, "-o", &deep]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);
    let out = run_sail(&sim, &["fetch", &b, "--format", "dataset"]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("-o"), "{}", out.stderr);
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
