//! `sail-export cost` on exports built through the library (the fixtures the other cost tests
//! share): the formula, unpriced rows, effective dates, window aliases and the default window.
//! The other cost tests are the modules below.

mod cli;
mod formats;
mod html;
mod html_chromium;
mod labels;
mod marks;
mod metadata;
mod report;
mod rows;
mod sql;
mod system_sqlite;
mod tables;

use std::path::{Path, PathBuf};

use sail_export::row::{FetchState, Row};
use sail_export::sink::sqlite::SqliteSink;
use sail_export::sink::Sink;
use sail_export::summary::Summary;
use serde_json::Value;

use crate::harness::*;

/// 2026-09-21 14:13:20 UTC.
pub const T0: i64 = 1_790_000_000;
/// One day later.
pub const T1: i64 = T0 + 86_400;

/// A completed, fetched row with these usage figures (total = input + output).
pub fn row(
    batch: &str,
    id: &str,
    model: &str,
    window: Option<&str>,
    created: i64,
    u: [i64; 4],
) -> Row {
    let mut r = Row::bare(batch, id, FetchState::Fetched);
    r.http_status = Some(200);
    r.status = Some("completed".into());
    r.model = Some(model.into());
    r.created_at = Some(created);
    r.completion_window = window.map(str::to_owned);
    r.input_tokens = Some(u[0]);
    r.input_cached_tokens = Some(u[1]);
    r.input_reasoning_tokens = Some(0);
    r.output_tokens = Some(u[2]);
    r.output_cached_tokens = Some(0);
    r.output_reasoning_tokens = Some(u[3]);
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

/// The same rows as a Parquet export, written by the Parquet sink.
pub fn export_parquet(dir: &Path, name: &str, rows: &[Row]) -> PathBuf {
    let path = dir.join(name);
    let mut sink = sail_export::sink::open(&path, sail_export::sink::Format::Parquet).unwrap();
    sink.write(rows).unwrap();
    sink.finish(&Summary::default()).unwrap();
    path
}

/// Two batches on two days: priced rows through aliases and the default window, an unknown
/// model, a failed row without usage, and two rows that were never fetched.
pub fn mixed() -> Vec<Row> {
    const GLM: &str = "zai-org/GLM-5.3";
    let mut failed = row("batch_b", "b4", GLM, Some("flex"), T1, [0; 4]);
    failed.status = Some("failed".into());
    failed.error_code = Some("server_error".into());
    (
        failed.input_tokens,
        failed.input_cached_tokens,
        failed.output_tokens,
    ) = (None, None, None);
    (failed.output_reasoning_tokens, failed.total_tokens) = (None, None);
    let mut errored = Row::bare("batch_b", "b3", FetchState::Error);
    errored.http_status = Some(500);
    errored.fetch_error = Some("http 500 after 3 attempts".into());
    let mut gone = Row::bare("batch_b", "b5", FetchState::NotFound);
    gone.http_status = Some(404);
    vec![
        row(
            "batch_a",
            "a1",
            GLM,
            Some("flex"),
            T0,
            [1_000_000, 400_000, 200_000, 150_000],
        ),
        row("batch_a", "a2", GLM, None, T0, [2_000_000, 0, 1_000_000, 0]),
        row(
            "batch_a",
            "a3",
            "moonshotai/Kimi-K3",
            Some("Balanced "),
            T0,
            [100_000, 50_000, 10_000, 10_000],
        ),
        row(
            "batch_a",
            "a4",
            "acme/unknown-1",
            Some("flex"),
            T0,
            [1_000, 0, 1_000, 0],
        ),
        row(
            "batch_b",
            "b1",
            "Qwen/Qwen3.6-35B-A3B",
            Some("flex"),
            T1,
            [1_000_000, 0, 0, 0],
        ),
        row("batch_b", "b2", GLM, Some("24h"), T1, [100, 0, 100, 0]),
        errored,
        failed,
        gone,
    ]
}

/// Runs `cost PATH args... --format json`, expecting exit 0; returns the JSON.
pub async fn cost_json(path: &Path, args: &[&str]) -> Value {
    let mut all = vec!["cost", path.to_str().unwrap(), "--format", "json"];
    all.extend(args);
    let out = run(&all).await;
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

/// Writes a price file into `dir`.
pub fn price_file(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("prices.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test]
async fn cached_tokens_are_billed_once_and_reasoning_is_inside_output() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [row(
        "b",
        "a1",
        "zai-org/GLM-5.3",
        Some("flex"),
        T0,
        [1_000_000, 400_000, 200_000, 150_000],
    )];
    let db = export(dir.path(), "x.sqlite", &rows);
    let r = cost_json(&db, &[]).await;
    let t = &r["total"];
    // (1,000,000 − 400,000)·0.40 + 400,000·0.08 + 200,000·1.80 = 632,000 → $0.632. Billing
    // cached twice and reasoning on top of output would give $1.062.
    assert_eq!(t["cost_usd"], 0.632);
    // Same tokens at asap: 600,000·0.98 + 400,000·0.18 + 200,000·3.08 → $1.276.
    assert_eq!(t["asap_cost_usd"], 1.276);
    assert_eq!(t["savings_usd"], 0.644);
    assert_eq!(t["cache_hit_ratio"], 0.4);
    assert_eq!(t["reasoning_share"], 0.75);
    assert_eq!(t["unpriced_requests"], 0);
    assert_eq!(r["prices"]["version"], "2026-10-07");
    assert_eq!(
        r["prices"]["source"],
        "https://docs.sailresearch.com/pricing"
    );
}

#[tokio::test]
async fn an_unknown_model_is_unpriced_never_zero_and_strict_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        row(
            "b",
            "x",
            "acme/unknown-1",
            Some("flex"),
            T0,
            [1_000, 0, 1_000, 0],
        ),
        row(
            "b",
            "y",
            "zai-org/GLM-5.3",
            Some("flex"),
            T0,
            [1_000_000, 0, 0, 0],
        ),
    ];
    let db = export(dir.path(), "x.sqlite", &rows);
    let r = cost_json(&db, &[]).await;
    let unknown = group(&r, &[("model", "acme/unknown-1")]);
    assert_eq!(unknown["cost_usd"], Value::Null);
    assert_eq!(unknown["unpriced_requests"], 1);
    assert_eq!(r["total"]["cost_usd"], 0.4, "the priced row only");
    assert_eq!(r["total"]["unpriced_requests"], 1);
    assert_eq!(r["unpriced"][0]["model"], "acme/unknown-1");

    let table = run(&["cost", db.to_str().unwrap()]).await;
    assert_eq!(table.code, 0, "{table:?}");
    assert!(
        table
            .stdout
            .contains("warning: 1 of 2 requests are unpriced"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains("'acme/unknown-1' × 'flex' (1)"),
        "{}",
        table.stdout
    );

    let strict = run(&["cost", db.to_str().unwrap(), "--strict"]).await;
    assert_eq!(strict.code, 3, "{strict:?}");
    assert!(
        strict
            .stderr
            .contains("--strict: 1 of 2 requests are unpriced"),
        "{}",
        strict.stderr
    );
    assert!(
        strict.stdout.contains("warning:"),
        "the report is still printed"
    );
    let priced = export(dir.path(), "y.sqlite", &rows[1..]);
    assert_eq!(
        run(&["cost", priced.to_str().unwrap(), "--strict"])
            .await
            .code,
        0
    );

    // --prices extends the table: a '*' entry prices the new model in any window.
    let extra = price_file(
        dir.path(),
        "version = \"x\"\n[[price]]\nmodel = \"acme/unknown-1\"\nwindow = \"*\"\ninput = 3\ncached_input = 1\noutput = 5\n",
    );
    let r = cost_json(&db, &["--strict", "--prices", extra.to_str().unwrap()]).await;
    // 1,000·3 + 1,000·5 = 8,000 → $0.008, plus GLM's $0.40.
    assert_eq!(group(&r, &[("model", "acme/unknown-1")])["cost_usd"], 0.008);
    assert_eq!(r["total"]["cost_usd"], 0.408);
}

#[tokio::test]
async fn the_price_in_force_at_created_at_wins() {
    let dir = tempfile::tempdir().unwrap();
    let prices = price_file(
        dir.path(),
        r#"
version = "test-1"
source = "a test"
[[price]]
model = "zai-org/GLM-5.3"
window = "flex"
input = 1.00
cached_input = 0.10
output = 2.00
effective_from = "2026-01-01"
[[price]]
model = "zai-org/GLM-5.3"
window = "flex"
input = 0.40
cached_input = 0.08
output = 1.80
effective_from = 2026-09-01
"#,
    );
    let rows = [
        row(
            "b",
            "before",
            "zai-org/GLM-5.3",
            Some("flex"),
            1_788_220_799,
            [1_000_000, 0, 0, 0],
        ),
        row(
            "b",
            "after",
            "zai-org/GLM-5.3",
            Some("flex"),
            1_788_220_800,
            [1_000_000, 0, 0, 0],
        ),
        row(
            "b",
            "too-early",
            "zai-org/GLM-5.3",
            Some("flex"),
            1_700_000_000,
            [1_000_000, 0, 0, 0],
        ),
    ];
    let db = export(dir.path(), "x.sqlite", &rows);
    let r = cost_json(&db, &["--prices", prices.to_str().unwrap(), "--by", "day"]).await;
    assert_eq!(group(&r, &[("day", "2026-08-31")])["cost_usd"], 1.0);
    assert_eq!(group(&r, &[("day", "2026-09-01")])["cost_usd"], 0.4);
    // 2023-11-14 is before every entry for GLM-5.3 flex in the override, which replaces the
    // bundled history for that model × window: no price was in force.
    assert_eq!(group(&r, &[("day", "2023-11-14")])["unpriced_requests"], 1);
    assert_eq!(r["prices"]["version"], "test-1");
    assert_eq!(r["prices"]["files"].as_array().unwrap().len(), 2);
    assert_eq!(r["prices"]["files"][0]["version"], "2026-10-07");
}

#[tokio::test]
async fn window_aliases_and_the_assumed_default_window_price_each_row() {
    let dir = tempfile::tempdir().unwrap();
    let windows = [
        Some("24h"),
        Some("24hr"),
        Some("FLEX"),
        None,
        Some(""),
        Some("standard"),
        Some("15m"),
        Some("priority"),
        Some("1h"),
    ];
    let rows: Vec<Row> = windows
        .iter()
        .enumerate()
        .map(|(i, w)| {
            row(
                "b",
                &format!("r{i}"),
                "zai-org/GLM-5.3",
                *w,
                T0,
                [1_000_000, 0, 0, 0],
            )
        })
        .collect();
    let db = export(dir.path(), "x.sqlite", &rows);
    let r = cost_json(&db, &["--by", "completion_window"]).await;
    let cost = |w: &str| group(&r, &[("completion_window", w)])["cost_usd"].clone();
    assert_eq!(cost("24h"), 0.4, "24h is the E1 spelling of flex");
    assert_eq!(
        cost("24hr"),
        0.4,
        "24hr is the usage API's legacy key for flex"
    );
    assert_eq!(cost("flex"), 0.4);
    // standard (explicit 1, missing 1, empty 1): the page's Balanced, at 0.50.
    let standard = group(&r, &[("completion_window", "standard")]);
    assert_eq!(standard["requests"], 3);
    assert_eq!(standard["cost_usd"], 1.5);
    assert_eq!(standard["assumed_window_requests"], 2);
    assert_eq!(
        cost("15m"),
        Value::Null,
        "15m → priority, which has no published price"
    );
    assert_eq!(cost("priority"), Value::Null);
    assert_eq!(cost("1h"), Value::Null, "an unknown tier stays unpriced");
    assert_eq!(r["assumptions"]["default_window"], "standard");
    assert_eq!(r["assumptions"]["assumed_window_requests"], 2);

    let table = run(&["cost", db.to_str().unwrap()]).await;
    assert!(
        table
            .stdout
            .contains("note: 2 requests had no completion_window; priced as 'standard'"),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains("window 'standard' is priced as Sail's page lists it, labelled 'Balanced'"),
        "{}",
        table.stdout
    );

    let prices = price_file(
        dir.path(),
        r#"
version = "mine"
default_window = "flex"
[[price]]
model = "zai-org/GLM-5.3"
window = "priority"
input = 0.7
cached_input = 0.1
output = 2
[[price]]
model = "zai-org/GLM-5.3"
window = "standard"
input = 0.6
cached_input = 0.1
output = 2
[[price]]
model = "zai-org/GLM-5.3"
window = "*"
input = 9
cached_input = 1
output = 9
"#,
    );
    let r = cost_json(
        &db,
        &[
            "--by",
            "completion_window",
            "--prices",
            prices.to_str().unwrap(),
        ],
    )
    .await;
    let cost = |w: &str| group(&r, &[("completion_window", w)])["cost_usd"].clone();
    assert_eq!(
        cost("15m"),
        0.7,
        "15m reaches the user's priority price through the alias"
    );
    assert_eq!(cost("priority"), 0.7);
    assert_eq!(
        group(&r, &[("completion_window", "flex")])["requests"],
        3,
        "flex + the 2 assumed"
    );
    // A window's own entry beats its alias, and both beat '*'.
    assert_eq!(
        group(&r, &[("completion_window", "standard")])["cost_usd"],
        0.6
    );
    assert_eq!(group(&r, &[("completion_window", "flex")])["cost_usd"], 1.2);
    assert_eq!(cost("1h"), 9.0, "no entry or alias for 1h: the '*' entry");
    assert_eq!(r["total"]["unpriced_requests"], 0);
}
