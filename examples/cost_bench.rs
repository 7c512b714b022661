//! Benchmark: builds a 1,000,000-row SQLite export through the real sink, then times the
//! `cost` command on it (target: at most 1 s) and checks its total against a per-row sum.
//!
//! Run: `cargo run --release --example cost_bench [-- ROWS [RAW_BYTES]]`
//! ROWS defaults to 1,000,000; RAW_BYTES (default 1500) is the size of each row's raw_json,
//! like a response body kept by `fetch` without `--no-raw`.

use std::time::Instant;

use sail_export::cmd::cost::Request;
use sail_export::cost::{Format, Key};
use sail_export::prices::{PriceTable, Usd};
use sail_export::row::{FetchState, Row};
use sail_export::sink::sqlite::SqliteSink;
use sail_export::sink::Sink;
use sail_export::summary::Summary;

const MODELS: &[&str] = &[
    "zai-org/GLM-5.3",
    "moonshotai/Kimi-K3",
    "deepseek-ai/DeepSeek-V4.1-Flash",
    "Qwen/Qwen3.6-35B-A3B",
    "google/gemma-4-31B-it",
    "acme/unknown-model",
];
const WINDOWS: &[Option<&str>] = &[
    Some("flex"),
    Some("balanced"),
    None,
    Some("asap"),
    Some("24h"),
    Some("standard"),
];

/// Row `i`, deterministic: tokens, model, window and day vary with `i`.
fn row(i: u64, raw: &str) -> Row {
    let mut r = Row::bare("batch_bench", &format!("req-{i:07}"), FetchState::Fetched);
    let x = i.wrapping_mul(2_654_435_761) % 1_000_003;
    r.http_status = Some(200);
    r.status = Some("completed".into());
    r.model = Some(MODELS[(x % MODELS.len() as u64) as usize].into());
    r.completion_window = WINDOWS[(i % WINDOWS.len() as u64) as usize].map(str::to_owned);
    r.created_at = Some(1_788_000_000 + (i as i64 % 7) * 86_400 + (x as i64 % 86_400));
    let input = 200 + (x % 8_000) as i64;
    let cached = (x % 5) as i64 * input / 5;
    let output = 50 + (x % 3_000) as i64;
    (
        r.input_tokens,
        r.input_cached_tokens,
        r.input_reasoning_tokens,
    ) = (Some(input), Some(cached), Some(0));
    (
        r.output_tokens,
        r.output_cached_tokens,
        r.output_reasoning_tokens,
    ) = (Some(output), Some(0), Some(output / 3));
    r.total_tokens = Some(input + output);
    r.output_text = Some(format!(
        "answer {i}: the quick brown fox jumps over the lazy dog"
    ));
    r.metadata_json = Some(r#"{"completion_window":"flex","job":"bench"}"#.into());
    r.raw_json = (!raw.is_empty()).then(|| raw.to_owned());
    r
}

/// The expected total, priced row by row (not by the report's buckets).
fn expected(rows: u64, prices: &PriceTable) -> (Usd, u64) {
    let (mut total, mut unpriced) = (Usd::ZERO, 0);
    for i in 0..rows {
        let r = row(i, "");
        let window = r
            .completion_window
            .clone()
            .unwrap_or_else(|| prices.default_window().to_owned());
        let day = sail_export::time::day::of_unix(r.created_at.unwrap());
        match prices.lookup(r.model.as_deref().unwrap(), &window, Some(day)) {
            Some(m) => {
                let (inp, cached, out) = (
                    r.input_tokens.unwrap(),
                    r.input_cached_tokens.unwrap(),
                    r.output_tokens.unwrap(),
                );
                total += m.entry.input.times(inp - cached)
                    + m.entry.cached_input.times(cached)
                    + m.entry.output.times(out);
            }
            None => unpriced += 1,
        }
    }
    (total, unpriced)
}

/// CPU seconds (user + system) this process has used so far, from /proc (Linux); 0 elsewhere.
/// The machine is shared, so CPU time is printed next to wall time.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let f: Vec<f64> = after
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // Fields 14 and 15 of the file (utime, stime) are 12 and 13 after the command name,
    // minus the non-numeric state field: indexes 10 and 11 here, in 1/100 s.
    (f.get(10).unwrap_or(&0.0) + f.get(11).unwrap_or(&0.0)) / 100.0
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let rows: u64 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let raw_bytes: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1_500);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.sqlite");
    let raw = format!(
        "{{\"object\":\"response\",\"pad\":\"{}\"}}",
        "x".repeat(raw_bytes.saturating_sub(32))
    );
    let raw = if raw_bytes == 0 { String::new() } else { raw };

    let t = Instant::now();
    let mut sink = SqliteSink::open(&path)?;
    let mut chunk = Vec::with_capacity(10_000);
    for i in 0..rows {
        chunk.push(row(i, &raw));
        if chunk.len() == 10_000 {
            sink.write(&chunk)?;
            chunk.clear();
        }
    }
    sink.write(&chunk)?;
    sink.finish(&Summary::default())?;
    drop(sink);
    let size = std::fs::metadata(&path)?.len();
    println!(
        "built {rows} rows ({raw_bytes}-byte raw_json) in {:.1} s, {:.0} MiB",
        t.elapsed().as_secs_f64(),
        size as f64 / 1048576.0
    );

    let mut best = f64::INFINITY;
    for run in 1..=3 {
        let (t, cpu) = (Instant::now(), cpu_seconds());
        let mut req = Request::new(path.clone());
        req.format = Format::Json;
        let code = sail_export::cmd::cost::run_to(&req, &mut std::io::sink())?;
        let s = t.elapsed().as_secs_f64();
        best = best.min(s);
        println!(
            "cost run {run}: {s:.3} s wall, {:.2} s CPU (exit {code})",
            cpu_seconds() - cpu
        );
    }
    let prices = PriceTable::bundled();
    let conn = sail_export::export::open(&path)?;
    let scanned = sail_export::cost::scan::scan(&conn, None, false, false)?;
    let report = sail_export::cost::report::build(scanned, &prices, &[Key::Model], None);
    let (want, want_unpriced) = expected(rows, &prices);
    let ok = report.total.cost == want && report.total.unpriced_requests() == want_unpriced;
    println!(
        "total ${} ({} unpriced); per-row sum ${} ({} unpriced): {}",
        report.total.cost.exact(),
        report.total.unpriced_requests(),
        want.exact(),
        want_unpriced,
        if ok { "identical" } else { "MISMATCH" }
    );
    println!(
        "best cost time {best:.3} s over {rows} rows; target ≤ 1 s: {}",
        if best <= 1.0 { "met" } else { "NOT met" }
    );

    // The SQL view, for people who query the export in sqlite3 (no target; informative).
    let t = Instant::now();
    let view: f64 = conn.query_row("SELECT SUM(cost_usd) FROM result_costs", [], |r| r.get(0))?;
    let agree = (view - report.total.cost.to_f64()).abs() < 0.005;
    println!(
        "view: SELECT SUM(cost_usd) FROM result_costs = ${view:.6} in {:.3} s; agrees with cost to the cent: {agree}",
        t.elapsed().as_secs_f64()
    );
    anyhow::ensure!(
        ok && agree,
        "the report total differs from the per-row sum or the view"
    );
    Ok(())
}
