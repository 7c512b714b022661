//! Price history: rows priced by the price in force on their day, the unknown-change rule,
//! `prices [--at]`, and `prices update` against the simulator's pricing page.

mod history;
mod show;
mod update;

use std::path::{Path, PathBuf};

use sail_export::row::{FetchState, Row};
use sail_export::sink::sqlite::SqliteSink;
use sail_export::sink::Sink;
use sail_export::summary::Summary;
use serde_json::Value;

use crate::harness::*;

/// Noon UTC of a `YYYY-MM-DD` day, as Unix seconds.
pub fn noon(date: &str) -> i64 {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    d.and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp()
}

/// A fetched, completed row: `[input, cached, output]` tokens.
pub fn row(id: &str, model: &str, window: Option<&str>, date: &str, u: [i64; 3]) -> Row {
    let mut r = Row::bare("batch_p", id, FetchState::Fetched);
    r.http_status = Some(200);
    r.status = Some("completed".into());
    r.model = Some(model.into());
    r.created_at = Some(noon(date));
    r.completion_window = window.map(str::to_owned);
    (r.input_tokens, r.input_cached_tokens, r.output_tokens) = (Some(u[0]), Some(u[1]), Some(u[2]));
    (
        r.input_reasoning_tokens,
        r.output_cached_tokens,
        r.output_reasoning_tokens,
    ) = (Some(0), Some(0), Some(0));
    r.total_tokens = Some(u[0] + u[2]);
    r
}

/// Writes `rows` through the real SQLite sink into `dir/name`.
pub fn export(dir: &Path, name: &str, rows: &[Row]) -> PathBuf {
    let path = dir.join(name);
    let mut sink = SqliteSink::open(&path).unwrap();
    sink.write(rows).unwrap();
    sink.finish(&Summary::default()).unwrap();
    path
}

/// Runs the binary with the prices folder set to `prices_dir`.
pub async fn run_in(prices_dir: &Path, args: &[&str]) -> Output {
    let mut cmd = command(args);
    cmd.env("SAIL_EXPORT_PRICES_DIR", prices_dir);
    output(cmd).await
}

/// `cost PATH --format json ARGS` with the prices folder `prices_dir`, expecting exit 0.
pub async fn cost_json(prices_dir: &Path, db: &Path, args: &[&str]) -> Value {
    let mut all = vec!["cost", db.to_str().unwrap(), "--format", "json"];
    all.extend(args);
    let out = run_in(prices_dir, &all).await;
    assert_eq!(out.code, 0, "{out:?}");
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

/// The report row whose keys have these values.
pub fn group<'a>(report: &'a Value, keys: &[(&str, &str)]) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| keys.iter().all(|(k, v)| r[*k] == *v))
        .unwrap_or_else(|| panic!("no row {keys:?} in {report:#}"))
}
