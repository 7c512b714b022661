//! Outputs people can trust: one writer per output, files that are not ours left alone, and
//! no request made for a run that cannot succeed (a batch id that is not one name, an
//! output whose extension contradicts the format, a batch the API does not know, a base URL
//! without `/v1`); Parquet exports read by real readers, `load` into SQLite, and outputs the
//! user cannot write. Shared helpers live here.

mod disk_full;
mod load;
mod lock;
mod no_waste;
mod one_place;
pub mod parquet;
#[cfg(unix)]
mod read_only;
mod run_options;
mod safe;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wiremock::{MockServer, Request, Respond, ResponseTemplate};

use crate::harness::*;

/// `n` custom_ids: id000, id001, ...
pub fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("id{i:03}")).collect()
}

/// A `GET /batches/{id}` body listing `ids`, all completed.
pub fn completed_batch(batch: &str, ids: &[String]) -> Value {
    let status: serde_json::Map<String, Value> = ids
        .iter()
        .map(|k| (k.clone(), json!({ "status": "COMPLETED" })))
        .collect();
    json!({"id": batch, "created_at": 1_764_000_000, "request_counts": ids.len(),
           "request_status": status})
}

/// A server for `batch` whose status lists `ids` (all completed) and answers each result.
pub async fn serve_batch(batch: &str, ids: &[String]) -> TestApi {
    let server = TestApi::start().await;
    server.batch(batch, completed_batch(batch, ids)).await;
    server.completed(batch, ids).await;
    server
}

/// A batch status answer held back until the test opens the gate: a run that has it in
/// flight is known to hold its output's lock (taken before any request) and cannot finish.
#[derive(Clone, Default)]
pub struct Gate {
    open: Arc<AtomicBool>,
    hit: Arc<AtomicBool>,
}

impl Gate {
    /// Mounts the gated `GET /v1/batches/{batch}` answering `body` once open.
    pub async fn mount(server: &TestApi, batch: &str, body: Value) -> Gate {
        let gate = Gate::default();
        let gated = Gated {
            gate: gate.clone(),
            body,
        };
        server.get(format!("/v1/batches/{batch}"), gated).await;
        gate
    }

    /// Waits until a status request has arrived (its sender holds the lock).
    pub async fn until_hit(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.hit.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "no status request arrived");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Lets the held answer (and every later one) go.
    pub fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

struct Gated {
    gate: Gate,
    body: Value,
}

impl Respond for Gated {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.gate.hit.store(true, Ordering::SeqCst);
        // Blocks the mock server's thread: nothing else is answered meanwhile, which is
        // what the tests want (the bound only keeps a broken test from hanging forever).
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.gate.open.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        ResponseTemplate::new(200).set_body_json(&self.body)
    }
}

/// `fetch batch -o out --base-url base` with no retries, plus `extra`.
pub fn fetch_cmd(batch: &str, out: &Path, base: &str, extra: &[&str]) -> tokio::process::Command {
    let mut args = vec![
        "fetch",
        batch,
        "-o",
        out.to_str().unwrap(),
        "--base-url",
        base,
        "--max-retries",
        "0",
    ];
    args.extend_from_slice(extra);
    command(&args)
}

/// The files in `dir`, sorted (hidden ones too).
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// How many times each custom_id of `batch` is in the SQLite export at `db` (id → count),
/// and how many are `fetched`.
pub fn id_counts(db: &Path, batch: &str) -> (Vec<(String, i64)>, i64) {
    let rows = query(
        db,
        &format!(
            "SELECT custom_id, count(*) AS n, sum(fetch_state = 'fetched') AS f FROM results \
             WHERE batch_id = '{batch}' GROUP BY custom_id ORDER BY custom_id"
        ),
    );
    let fetched = rows.iter().map(|r| r["f"].as_i64().unwrap()).sum();
    let counts = rows
        .into_iter()
        .map(|r| {
            (
                r["custom_id"].as_str().unwrap().to_owned(),
                r["n"].as_i64().unwrap(),
            )
        })
        .collect();
    (counts, fetched)
}

/// A path in `dir`.
pub fn at(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}
