//! Results gone for good: a batch past Sail's 48 h retention whose finished items answer
//! 404. The first run stores them as final `not_found` ("gone: past retention") and ends
//! complete with losses (exit 4); later runs request nothing for them, `sync` counts the
//! batch complete; `--retry-not-found` asks for them again.

use super::*;

/// Two batches created 50 and 74 hours ago, every item finished, and a seed under which
/// each has results gone (404); also how many of those there are.
async fn past_retention(items: u64) -> (SimHandle, u64) {
    let mut cfg = SimConfig {
        api_key: KEY.to_owned(),
        batches: 2,
        finish_after: Some(Duration::from_millis(1)),
        ..SimConfig::new(items)
    };
    cfg.epoch = sail_export::time::now_unix() - 50 * 3600;
    let expired = |seed| {
        let d = Dataset::new(seed, items, 2, cfg.epoch);
        let per_batch = |b| {
            (0..items)
                .filter(|&i| d.kind(b, i) == ItemKind::Expired)
                .count() as u64
        };
        (per_batch(0), per_batch(1))
    };
    cfg.seed = (1..)
        .find(|&s| {
            let (a, b) = expired(s);
            a > 0 && b > 0
        })
        .unwrap();
    let (a, b) = expired(cfg.seed);
    (Sim::start(cfg).await.unwrap(), a + b)
}

fn report(out: &Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn results_gone_past_retention_are_final_and_sync_counts_the_batch_complete() {
    let items = 200;
    let (sim, lost) = past_retention(items).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("all.sqlite").display().to_string();
    let pq = dir.path().join("all.parquet").display().to_string();
    let ds = format!("{}/ds/", dir.path().display());
    for out in [db.as_str(), pq.as_str(), ds.as_str()] {
        let before = sim.stats();
        let first = run_sail(&sim, &["sync", "-o", out, "--json"]).await;
        assert_eq!(first.code, 4, "{out}: {first:?}");
        let r = report(&first);
        assert_eq!(
            (r["complete"].as_u64(), r["incomplete"].as_u64()),
            (Some(2), Some(0)),
            "{r}"
        );
        assert_eq!(
            (r["with_losses"].as_u64(), r["lost"].as_u64()),
            (Some(2), Some(lost)),
            "{r}"
        );
        assert!(
            first.stderr.contains("complete with losses"),
            "{}",
            first.stderr
        );
        assert_eq!(
            sim.stats().result_requests - before.result_requests,
            2 * items
        );

        // The second run: the batches are complete, nothing is requested, the same code.
        let before = sim.stats();
        let second = run_sail(&sim, &["sync", "-o", out, "--json"]).await;
        assert_eq!(second.code, 4, "{out}: {second:?}");
        let r = report(&second);
        assert_eq!(r["already_complete"], 2, "{r}");
        assert_eq!(r["lost"], lost, "{r}");
        assert_eq!(sim.stats().result_requests, before.result_requests, "{out}");

        // --retry-not-found asks for the lost ones, and only those, once more.
        let before = sim.stats();
        let retry = run_sail(&sim, &["sync", "-o", out, "--retry-not-found", "--json"]).await;
        assert_eq!(retry.code, 4, "{out}: {retry:?}");
        assert_eq!(
            sim.stats().result_requests - before.result_requests,
            lost,
            "{out}"
        );
    }
    let rows = query(
        std::path::Path::new(&db),
        "SELECT count(*) AS n, min(fetch_error) AS first, max(fetch_error) AS last \
         FROM results WHERE fetch_state = 'not_found'",
    );
    assert_eq!(rows[0]["n"], lost);
    for e in [&rows[0]["first"], &rows[0]["last"]] {
        assert!(
            e.as_str().unwrap().starts_with("gone: past retention"),
            "{e}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fetch_rerun_requests_no_result_gone_past_retention() {
    let items = 200;
    let (sim, _) = past_retention(items).await;
    let batch = sim.batch_id().to_owned();
    let gone = (0..items)
        .filter(|&i| sim.dataset().kind(0, i) == ItemKind::Expired)
        .count() as u64;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("one.sqlite").display().to_string();
    let pq = dir.path().join("one.parquet").display().to_string();
    let ds = format!("{}/ds/", dir.path().display());
    for out in [db.as_str(), pq.as_str(), ds.as_str()] {
        let first = run_sail(&sim, &["fetch", &batch, "-o", out, "--json"]).await;
        assert_eq!(first.code, 4, "{out}: {first:?}");
        let s = report(&first);
        assert_eq!(
            (s["not_found"].as_u64(), s["lost"].as_u64()),
            (Some(gone), Some(gone)),
            "{s}"
        );
        let before = sim.stats();
        let second = run_sail(&sim, &["fetch", &batch, "-o", out, "--json"]).await;
        assert_eq!(second.code, 4, "{out}: {second:?}");
        assert_eq!(sim.stats().result_requests, before.result_requests, "{out}");
        let s = report(&second);
        assert_eq!(
            (s["fetched"].as_u64(), s["lost"].as_u64()),
            (Some(items - gone), Some(gone)),
            "{s}"
        );
        let before = sim.stats();
        let retry = run_sail(&sim, &["fetch", &batch, "-o", out, "--retry-not-found"]).await;
        assert_eq!(retry.code, 4, "{out}: {retry:?}");
        assert_eq!(
            sim.stats().result_requests - before.result_requests,
            gone,
            "{out}"
        );
    }
}
