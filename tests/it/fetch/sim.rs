//! The simulated Sail API answers like the real one (auth, 404, paging, statuses, faults,
//! the concurrency limiter), and the real binary exports from it: `fetch` and `demo`.

use std::time::Duration;

use sail_export::sim::{Faults, ItemKind, Sim, SimConfig, SimHandle};
use serde_json::Value;

use crate::harness::*;

/// A plain HTTP client with no retries, so every answer of the simulator is seen as sent.
fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap()
}

/// The simulator with the harness key, fixed epoch and no faults.
fn config(items: u64) -> SimConfig {
    SimConfig {
        api_key: KEY.to_owned(),
        epoch: 1_764_000_000,
        ..SimConfig::new(items)
    }
}

async fn get(sim: &SimHandle, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let resp = http()
        .get(format!("{}{path}", sim.base_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().await.unwrap().to_vec())
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

/// The first item of the main batch with this kind.
fn first(sim: &SimHandle, kind: ItemKind) -> String {
    let d = sim.dataset();
    let i = (0..d.items())
        .find(|i| d.kind(0, *i) == kind)
        .expect("kind in the mix");
    sail_export::sim::Dataset::custom_id(i)
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_without_the_right_key_get_a_401_envelope() {
    let sim = Sim::start(config(10)).await.unwrap();
    let url = format!("{}/batches/{}", sim.base_url(), sim.batch_id());
    for auth in [None, Some("Bearer sk_wrong"), Some(KEY)] {
        let mut req = http().get(&url);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{auth:?}");
        let body = json(&resp.bytes().await.unwrap());
        assert_eq!(body["error"]["type"], "authentication_error");
        assert!(body["error"]["message"].is_string());
    }
    assert_eq!(sim.stats().unauthorized, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_batches_ids_and_expired_results_get_a_404_envelope() {
    let sim = Sim::start(config(300)).await.unwrap();
    let b = sim.batch_id().to_owned();
    let expired = first(&sim, ItemKind::Expired);
    for path in [
        "/batches/batch_nope".to_owned(),
        format!("/batches/{b}/req-000300"),
        format!("/batches/{b}/req-1"),
        "/batches/batch_nope/req-000001".to_owned(),
        format!("/batches/{b}/{expired}"),
    ] {
        let (status, _, body) = get(&sim, &path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(json(&body)["error"]["type"], "not_found_error", "{path}");
    }
    let (status, _, body) = get(&sim, &format!("/batches/{b}")).await;
    assert_eq!(status, 200);
    let batch = json(&body);
    assert_eq!(batch["request_status"][&expired]["status"], "COMPLETED");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_batch_status_lists_every_item_with_uppercase_statuses() {
    let sim = Sim::start(config(500)).await.unwrap();
    let (_, _, body) = get(&sim, &format!("/batches/{}", sim.batch_id())).await;
    let batch = json(&body);
    assert_eq!(batch["id"], sim.batch_id());
    assert_eq!(batch["request_counts"], 500);
    assert_eq!(batch["created_at"], 1_764_000_000);
    let status = batch["request_status"].as_object().unwrap();
    assert_eq!(status.len(), 500);
    let running = first(&sim, ItemKind::Running);
    let failed = first(&sim, ItemKind::Failed);
    assert_eq!(status[&running]["status"], "RUNNING");
    assert_eq!(status[&failed]["status"], "FAILED");
    let (code, _, body) = get(&sim, &format!("/batches/{}/{running}", sim.batch_id())).await;
    assert_eq!(code, 200);
    assert_eq!(json(&body)["status"], "in_progress");
    let (_, _, body) = get(&sim, &format!("/batches/{}/{failed}", sim.batch_id())).await;
    let resp = json(&body);
    assert_eq!(resp["status"], "failed");
    assert!(resp["error"]["code"].is_string() && resp["error"]["message"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_batch_list_pages_with_after_and_before_ids_and_checks_limit() {
    let sim = Sim::start(SimConfig {
        batches: 5,
        ..config(3)
    })
    .await
    .unwrap();
    let page = |body: Vec<u8>| -> Vec<String> {
        json(&body)
            .as_array()
            .expect("a bare array")
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, _, all) = get(&sim, "/batches").await;
    let all = page(all);
    assert_eq!(all.len(), 5);
    assert_eq!(
        all.last().unwrap(),
        sim.batch_id(),
        "oldest first, the main batch is newest"
    );
    let mut walked = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let q = after
            .as_ref()
            .map_or(String::new(), |a| format!("&after_id={a}"));
        let (_, _, body) = get(&sim, &format!("/batches?limit=2{q}")).await;
        let ids = page(body);
        walked.extend(ids.iter().cloned());
        if ids.len() < 2 {
            break;
        }
        after = ids.last().cloned();
    }
    assert_eq!(walked, all);
    let (_, _, body) = get(&sim, &format!("/batches?limit=2&before_id={}", all[3])).await;
    assert_eq!(page(body), all[1..3]);
    for bad in ["0", "201", "x"] {
        let (status, _, body) = get(&sim, &format!("/batches?limit={bad}")).await;
        assert_eq!(status, 400, "limit={bad}");
        assert_eq!(json(&body)["error"]["type"], "invalid_request_error");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_seed_serves_the_same_bytes_and_another_seed_does_not() {
    let a = Sim::start(config(50)).await.unwrap();
    let b = Sim::start(config(50)).await.unwrap();
    let c = Sim::start(SimConfig {
        seed: 43,
        ..config(50)
    })
    .await
    .unwrap();
    assert_eq!(a.batch_id(), b.batch_id());
    assert_ne!(a.batch_id(), c.batch_id());
    for i in [0, 7, 49] {
        let path = format!("/batches/{}/req-{i:06}", a.batch_id());
        let (_, _, one) = get(&a, &path).await;
        let (_, _, two) = get(&b, &path).await;
        assert_eq!(one, two, "{path}");
    }
    let (_, _, sa) = get(&a, &format!("/batches/{}", a.batch_id())).await;
    let (_, _, sc) = get(&c, &format!("/batches/{}", c.batch_id())).await;
    assert_ne!(json(&sa)["request_status"], json(&sc)["request_status"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_happen_at_their_configured_rates() {
    let faults = Faults {
        rate_429: 0.1,
        rate_5xx: 0.1,
        rate_drop: 0.1,
        rate_slow: 0.1,
        slow: Duration::from_millis(5),
        retry_after_s: 3,
    };
    let sim = Sim::start(SimConfig {
        faults,
        ..config(100)
    })
    .await
    .unwrap();
    let client = http();
    let n = 2000;
    let mut tally = std::collections::HashMap::<&str, u32>::new();
    let urls: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "{}/batches/{}/req-{:06}",
                sim.base_url(),
                sim.batch_id(),
                i % 100
            )
        })
        .collect();
    let results = futures::future::join_all(urls.iter().map(|u| {
        let client = client.clone();
        async move {
            // A cut connection shows either as a short body or, when the cut comes before
            // the headers are out, as a failed send.
            let Ok(resp) = client.get(u).bearer_auth(KEY).send().await else {
                return (0, None, false);
            };
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            (status, retry_after, resp.bytes().await.is_ok())
        }
    }))
    .await;
    for (status, retry_after, body_ok) in results {
        let what = match (status, body_ok) {
            (429, _) => {
                assert_eq!(retry_after.as_deref(), Some("3"));
                "429"
            }
            (500..=599, _) => "5xx",
            (_, false) => "dropped",
            _ => "answered",
        };
        *tally.entry(what).or_default() += 1;
    }
    // Each rate is 10 % of 2000: 200 ± 4.5 standard deviations (about 13.4).
    for what in ["429", "5xx", "dropped"] {
        let got = tally.get(what).copied().unwrap_or(0);
        assert!(
            (140..=260).contains(&got),
            "{what}: {got} of {n} ({tally:?})"
        );
    }
    let s = sim.stats();
    assert_eq!(s.fault_429, u64::from(tally["429"]));
    assert_eq!(s.dropped, u64::from(tally["dropped"]));
    assert!((140..=260).contains(&s.slow), "slow: {} of {n}", s.slow);
    assert_eq!(s.requests, n as u64);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_limiter_answers_429_beyond_max_concurrent() {
    let cfg = SimConfig {
        max_concurrent: Some(4),
        latency: Duration::from_millis(1500),
        faults: Faults {
            retry_after_s: 2,
            ..Faults::default()
        },
        ..config(100)
    };
    let sim = Sim::start(cfg).await.unwrap();
    let client = http();
    let url = format!("{}/batches/{}/req-000001", sim.base_url(), sim.batch_id());
    let answers = futures::future::join_all((0..20).map(|_| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let resp = client.get(&url).bearer_auth(KEY).send().await.unwrap();
            (
                resp.status().as_u16(),
                resp.headers().get("retry-after").cloned(),
            )
        }
    }))
    .await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    let limited: Vec<_> = answers.iter().filter(|(s, _)| *s == 429).collect();
    assert_eq!(ok, 4, "{answers:?}");
    assert_eq!(limited.len(), 16);
    assert!(limited
        .iter()
        .all(|(_, ra)| ra.as_ref().is_some_and(|v| v == "2")));
    assert_eq!(sim.stats().max_in_flight, 4);
    assert_eq!(sim.stats().limited, 16);
}

#[tokio::test(flavor = "multi_thread")]
async fn running_items_complete_after_finish_after() {
    // Each running item completes at its own moment within `finish_after`: some are still
    // running right after the start (one of several, however slow the machine is to ask),
    // and every one has completed once the time is over.
    let finish = Duration::from_secs(2);
    let cfg = SimConfig {
        finish_after: Some(finish),
        ..config(400)
    };
    let sim = Sim::start(cfg).await.unwrap();
    let d = sim.dataset();
    let running: Vec<String> = (0..d.items())
        .filter(|i| d.kind(0, *i) == ItemKind::Running)
        .map(sail_export::sim::Dataset::custom_id)
        .collect();
    assert!(running.len() >= 4, "{running:?}");
    let status_of = |body: Vec<u8>| {
        json(&body)["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let mut early = Vec::new();
    for id in &running {
        let path = format!("/batches/{}/{id}", sim.batch_id());
        early.push(status_of(get(&sim, &path).await.2));
    }
    assert!(early.iter().any(|s| s == "in_progress"), "{early:?}");
    tokio::time::sleep(finish + Duration::from_millis(100)).await;
    let (_, _, body) = get(&sim, &format!("/batches/{}", sim.batch_id())).await;
    let status = json(&body);
    for id in &running {
        let path = format!("/batches/{}/{id}", sim.batch_id());
        assert_eq!(status_of(get(&sim, &path).await.2), "completed", "{id}");
        assert_eq!(status["request_status"][id]["status"], "COMPLETED", "{id}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fetch_against_a_faulty_simulator_ends_with_one_row_per_id() {
    let faults = Faults {
        rate_429: 0.03,
        rate_5xx: 0.02,
        rate_drop: 0.02,
        rate_slow: 0.01,
        slow: Duration::from_millis(300),
        retry_after_s: 0,
    };
    let cfg = SimConfig {
        faults,
        max_concurrent: Some(24),
        latency: Duration::from_millis(2),
        ..config(400)
    };
    let sim = Sim::start(cfg).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sim.sqlite");
    let out = run(&[
        "fetch",
        sim.batch_id(),
        "-o",
        db.to_str().unwrap(),
        "--base-url",
        &sim.base_url(),
        "-j",
        "32",
        "--json",
    ])
    .await;
    assert_no_key(&out);
    assert_eq!(
        out.code, 3,
        "pending and not_found items make the run incomplete: {out:?}"
    );
    let d = sim.dataset();
    let count = |f: &dyn Fn(ItemKind) -> bool| (0..400).filter(|i| f(d.kind(0, *i))).count() as i64;
    let rows = query(&db, "SELECT fetch_state, COUNT(*) AS n, COUNT(DISTINCT custom_id) AS ids FROM results GROUP BY 1 ORDER BY 1");
    let n = |state: &str| {
        rows.iter()
            .find(|r| r["fetch_state"] == state)
            .map_or(0, |r| r["n"].as_i64().unwrap())
    };
    assert_eq!(
        rows.iter().map(|r| r["ids"].as_i64().unwrap()).sum::<i64>(),
        400,
        "{rows:?}"
    );
    assert_eq!(n("error"), 0, "{rows:?}");
    assert_eq!(n("pending"), count(&|k| k.is_unfinished()));
    assert_eq!(n("not_found"), count(&|k| k == ItemKind::Expired));
    assert!(
        sim.stats().fault_429 + sim.stats().limited + sim.stats().fault_5xx + sim.stats().dropped
            > 0
    );
    let summary = json(out.stdout.trim().as_bytes());
    assert!(summary["retries"].as_u64().unwrap() > 0, "{summary}");
    let failed = query(
        &db,
        "SELECT COUNT(*) AS n FROM results WHERE status = 'failed' AND error_code IS NOT NULL",
    );
    assert_eq!(failed[0]["n"], count(&|k| k == ItemKind::Failed));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_exports_every_simulated_item_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.sqlite");
    let db_arg = db.to_str().unwrap();
    let out = run(&["demo", "--requests", "300", "--out", db_arg]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("demo complete"), "{}", out.stderr);
    let rows = query(&db, "SELECT COUNT(*) AS n, COUNT(DISTINCT custom_id) AS ids, SUM(fetch_state = 'fetched') AS fetched, SUM(fetch_state = 'error') AS errors FROM results");
    assert_eq!(rows[0]["ids"], 300);
    assert_eq!(rows[0]["errors"], 0);
    assert!(rows[0]["fetched"].as_i64().unwrap() > 250, "{rows:?}");
    let again = run(&["demo", "--requests", "300", "--out", db_arg]).await;
    assert_eq!(again.code, 0, "a second demo replaces the first: {again:?}");
    assert_eq!(query(&db, "SELECT COUNT(*) AS n FROM runs")[0]["n"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_refuses_to_overwrite_a_file_it_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join("mine.sqlite");
    std::fs::write(&mine, b"precious").unwrap();
    let out = run(&["demo", "--requests", "10", "--out", mine.to_str().unwrap()]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--out"), "{}", out.stderr);
    assert_eq!(std::fs::read(&mine).unwrap(), b"precious");
}
