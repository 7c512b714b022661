//! `--shard K/N`: three processes at once into one dataset export disjoint parts of one
//! batch whose union is what one process exports.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn three_shards_at_once_equal_one_process() {
    let sim = sim(2000, 1, false).await;
    let b = sim.batch_id().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    let root = format!("{}/", ds.display());

    let shards: Vec<_> = (0..3)
        .map(|k| {
            let shard = format!("{k}/3");
            sail(
                &sim,
                &["fetch", &b, "-o", &root, "--shard", &shard, "--json"],
            )
            .spawn()
            .unwrap()
        })
        .collect();
    let mut totals = 0;
    for child in shards {
        let out = child.wait_with_output().await.unwrap();
        let code = out.status.code().unwrap_or(-1);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            matches!(code, 0 | 3),
            "{code}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let s: Value = serde_json::from_str(&stdout).unwrap();
        let n = s["total"].as_u64().unwrap();
        assert!((500..800).contains(&n), "an uneven shard: {s}");
        totals += n;
    }
    assert_eq!(totals, 2000, "the shards cover every id once");
    let files = parts(&ds, &b);
    assert_eq!(files.len(), 3, "{files:?}");
    for k in 0..3 {
        let tag = format!("-shard-{k}-of-3.parquet");
        assert!(
            files.iter().any(|f| f.to_string_lossy().ends_with(&tag)),
            "{files:?}"
        );
    }
    // A shard rerun asks nothing it has; its index given, as a scheduler does, by the
    // name of the variable that holds it.
    let not_fetched = query_shard_unfetched(&ds, &b).await;
    let before = result_gets(&sim);
    let mut rerun = sail(
        &sim,
        &[
            "fetch",
            &b,
            "-o",
            &root,
            "--shard",
            "JOB_COMPLETION_INDEX/3",
        ],
    );
    rerun.env("JOB_COMPLETION_INDEX", "1");
    let out = output(rerun).await;
    assert!(matches!(out.code, 0 | 3), "{out:?}");
    assert_eq!(
        result_gets(&sim) - before,
        not_fetched[1],
        "only shard 1's unfetched ids"
    );

    // The union equals one unsharded export, row for row.
    let single = dir.path().join("single.sqlite");
    let out = run_sail(&sim, &["fetch", &b, "-o", single.to_str().unwrap()]).await;
    assert!(matches!(out.code, 0 | 3), "{out:?}");
    let union = dir.path().join("union.sqlite");
    let out = run(&["load", ds.to_str().unwrap(), "-o", union.to_str().unwrap()]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let cols = "custom_id, fetch_state, status, model, input_tokens, output_tokens, output_text";
    let key = |db: &Path| {
        query(
            db,
            &format!("SELECT {cols} FROM results ORDER BY custom_id"),
        )
    };
    let (a, b_rows) = (key(&union), key(&single));
    assert_eq!(a.len(), 2000);
    assert_eq!(a, b_rows);
}

/// Rows whose request failed (not found or an error), per shard of 3, in the dataset
/// (loaded into SQLite): what a rerun asks again (pending ones wait for their batch).
async fn query_shard_unfetched(ds: &Path, batch: &str) -> [u64; 3] {
    let db = ds.parent().unwrap().join("check.sqlite");
    std::fs::remove_file(&db).ok();
    let out = run(&["load", ds.to_str().unwrap(), "-o", db.to_str().unwrap()]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let rows = query(
        &db,
        &format!("SELECT custom_id FROM results WHERE batch_id = '{batch}' AND fetch_state IN ('not_found', 'error')"),
    );
    let mut n = [0u64; 3];
    for r in rows {
        let id = r["custom_id"].as_str().unwrap();
        let k = sail_export::shard::fnv1a64(id.as_bytes()) % 3;
        n[k as usize] += 1;
    }
    std::fs::remove_file(&db).ok();
    n
}
