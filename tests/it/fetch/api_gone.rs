//! An API that vanishes mid-run, as users meet it: the simulator is shut down partway
//! through an export. Gone for longer than `--give-up-after`, the run stops requesting,
//! keeps its rows, exits 1 saying since when, and a rerun resumes; back within the window,
//! the run is ridden out and completes.

use std::process::Stdio;
use std::time::{Duration, Instant};

use sail_export::sim::{Sim, SimConfig, SimHandle};
use serde_json::Value;

use crate::harness::*;

/// Items in the batch: about four seconds of requests at the pace below.
const ITEMS: u64 = 400;
/// Result requests served before the server goes away.
const SERVED_BEFORE: u64 = 80;

/// The simulator with the harness key, 20 ms per answer, on `port` (0: any).
async fn sim_on(port: u16) -> SimHandle {
    Sim::start(SimConfig {
        api_key: KEY.to_owned(),
        latency: Duration::from_millis(20),
        port,
        ..SimConfig::new(ITEMS)
    })
    .await
    .unwrap()
}

fn port_of(sim: &SimHandle) -> u16 {
    let url = reqwest::Url::parse(&sim.base_url()).unwrap();
    url.port().unwrap()
}

/// `fetch` of the whole batch into `db` at `-j 2`, with `--give-up-after window`, started.
fn start_fetch(sim: &SimHandle, db: &std::path::Path, window: &str) -> tokio::process::Child {
    let mut cmd = command(&[
        "fetch",
        sim.batch_id(),
        "-o",
        db.to_str().unwrap(),
        "--base-url",
        &sim.base_url(),
        "--json",
        "-j",
        "2",
        "--give-up-after",
        window,
    ]);
    cmd.env("RUST_LOG", "info").stdout(Stdio::piped());
    cmd.spawn().unwrap()
}

/// Waits until the simulator has served `n` result requests.
async fn served(sim: &SimHandle, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.stats().result_requests < n {
        assert!(Instant::now() < deadline, "the run never got going");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits for the run to end, at most `limit`.
async fn finish(child: tokio::process::Child, limit: Duration) -> Output {
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the run went on for more than {limit:?}"))
        .unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn count(db: &std::path::Path, filter: &str) -> i64 {
    let rows = query(db, &format!("SELECT count(*) AS n FROM results {filter}"));
    rows[0]["n"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vanished_api_stops_the_run_within_the_window_and_a_rerun_resumes() {
    let sim = sim_on(0).await;
    let port = port_of(&sim);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("o.sqlite");
    let child = start_fetch(&sim, &db, "3s");
    served(&sim, SERVED_BEFORE).await;
    sim.shutdown().await;
    let gone_at = Instant::now();
    let out = finish(child, Duration::from_secs(60)).await;
    let took = gone_at.elapsed();
    assert_eq!(out.code, 1, "{out:?}");
    // The window, plus the backoff between attempts (up to 4 s by then) and the shutdown.
    assert!(
        took < Duration::from_secs(3 + 8),
        "stopped {took:?} after the API went away"
    );
    assert!(
        out.stderr.contains("no answer since") && out.stderr.contains("rerun"),
        "{}",
        out.stderr
    );
    let s: Value = summary(&out);
    assert_eq!(s["stopped"], "unreachable", "{s}");
    let not_attempted = s["not_attempted"].as_i64().unwrap();
    assert!(not_attempted > 0, "{s}");
    let fetched = s["fetched"].as_i64().unwrap();
    assert!(fetched >= SERVED_BEFORE as i64 / 2, "{s}");
    // What the summary says is what the file holds: a row per id it finished, none for the rest.
    assert_eq!(count(&db, "WHERE fetch_state = 'fetched'"), fetched);
    assert_eq!(
        count(&db, ""),
        s["total"].as_i64().unwrap() - not_attempted,
        "{s}"
    );

    // The API is back: the same command resumes, requesting only what is missing.
    let sim = sim_on(port).await;
    let out = finish(start_fetch(&sim, &db, "3s"), Duration::from_secs(60)).await;
    let again: Value = summary(&out);
    assert!(again.get("stopped").is_none(), "{out:?}");
    assert_eq!(again["not_attempted"], 0, "{again}");
    assert_eq!(again["skipped"], fetched, "{again}");
    assert!(
        sim.stats().result_requests <= ITEMS - fetched as u64,
        "{} result requests on the rerun, {fetched} were fetched before",
        sim.stats().result_requests
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_back_within_the_window_is_ridden_out() {
    let sim = sim_on(0).await;
    let port = port_of(&sim);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("o.sqlite");
    let child = start_fetch(&sim, &db, "20s");
    served(&sim, SERVED_BEFORE).await;
    sim.shutdown().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sim = sim_on(port).await;
    let out = finish(child, Duration::from_secs(60)).await;
    let s: Value = summary(&out);
    assert!(s.get("stopped").is_none(), "{out:?}");
    assert_eq!(s["not_attempted"], 0, "{s}");
    assert!(
        s["retries"].as_u64().unwrap() > 0,
        "the outage was not met: {s}"
    );
    assert!(sim.stats().result_requests > 0);
    assert_eq!(count(&db, ""), s["total"].as_i64().unwrap());
    assert_eq!(count(&db, "WHERE fetch_error LIKE '%connection%'"), 0);
}
