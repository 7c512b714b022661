//! Printing a report: one function per format (table, JSON, CSV, Markdown), chosen by a match.

use serde_json::{json, Map, Value};

use super::report::{Key, Report, Totals};
use super::table::{self, Width};
use crate::prices::{PriceTable, Usd};

/// How a report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A table for the terminal.
    Table,
    /// One JSON object.
    Json,
    /// CSV, one line per group.
    Csv,
    /// A Markdown table.
    Markdown,
    /// One self-contained HTML page of charts (`cost::html`; written by `cmd::cost`, which
    /// reads the most expensive requests too).
    Html,
}

/// Renders `report` in `format`; the text ends with a newline. `width` bounds a terminal
/// table (Markdown always has every column).
pub(crate) fn render(
    report: &Report,
    prices: &PriceTable,
    format: Format,
    width: Width,
) -> anyhow::Result<String> {
    Ok(match format {
        Format::Table => table::render(report, notes(report, prices), false, width),
        Format::Markdown => table::render(report, notes(report, prices), true, Width::All),
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&to_json(report, prices))?
        ),
        Format::Csv => csv(report)?,
        Format::Html => anyhow::bail!("an HTML report is made by cost::html::render"),
    })
}

/// The report as one JSON object: `rows`, `total`, `prices` and what was assumed.
pub(crate) fn to_json(report: &Report, prices: &PriceTable) -> Value {
    let rows: Vec<Value> = report
        .groups
        .iter()
        .map(|g| {
            let mut m = Map::new();
            for (k, v) in report.keys.iter().zip(&g.key) {
                m.insert(k.name().to_owned(), json!(v));
            }
            m.extend(totals_json(&g.totals));
            Value::Object(m)
        })
        .collect();
    let aliases: Vec<Value> = report
        .aliases_used
        .iter()
        .map(|((w, to), n)| json!({"completion_window": w, "priced_as": to, "requests": n}))
        .collect();
    let unpriced: Vec<Value> = report
        .unpriced
        .iter()
        .map(|u| json!({"model": u.model, "completion_window": u.window, "requests": u.requests}))
        .collect();
    let layers: Vec<Value> = prices
        .layers
        .iter()
        .map(|o| json!({"file": o.file, "version": o.version, "source": o.source}))
        .collect();
    json!({
        "keys": report.keys.iter().map(|k| k.name()).collect::<Vec<_>>(),
        "batch": report.batch,
        "since": report.since,
        "until": report.until,
        "rows": rows,
        "total": Value::Object(totals_json(&report.total)),
        "prices": {"version": prices.version(), "source": prices.source(), "files": layers},
        "assumptions": {
            "default_window": report.default_window,
            "assumed_window_requests": report.total.assumed_window_requests,
            "window_aliases_used": aliases,
        },
        "unpriced": unpriced,
        "uncertain": uncertain_json(report),
        "not_fetched_requests": report.not_fetched_requests,
    })
}

/// Where the change day of a price is unknown: the model × window and how many requests.
fn uncertain_json(report: &Report) -> Vec<Value> {
    let each = report.uncertain.iter();
    each.map(|((m, w), n)| json!({"model": m, "priced_window": w, "requests": n}))
        .collect()
}

fn usd(v: Option<Usd>) -> Value {
    v.map_or(Value::Null, |u| json!(u.to_f64()))
}

fn totals_json(t: &Totals) -> Map<String, Value> {
    let anomalies: Map<String, Value> = t
        .anomalies
        .named()
        .iter()
        .map(|(k, n)| ((*k).to_owned(), json!(n)))
        .collect();
    let v = json!({
        "requests": t.requests,
        "input_tokens": t.input_tokens,
        "input_cached_tokens": t.input_cached_tokens,
        "output_tokens": t.output_tokens,
        "output_reasoning_tokens": t.output_reasoning_tokens,
        "cost_usd": usd(t.cost_usd()),
        "priced_requests": t.priced_requests,
        "unpriced_requests": t.unpriced_requests(),
        "no_usage_requests": t.no_usage_requests,
        "asap_cost_usd": usd(t.asap_cost_usd()),
        "savings_usd": usd(t.savings_usd()),
        "savings_ratio": t.savings_ratio(),
        "savings_basis_requests": t.comparable_requests,
        "cache_hit_ratio": t.cache_hit_ratio(),
        "reasoning_share": t.reasoning_share(),
        "assumed_window_requests": t.assumed_window_requests,
        "anomalies": anomalies,
        "uncertain_requests": t.uncertain_requests,
        "uncertain_cost_low_usd": usd(uncertain(t).map(|r| r.0)),
        "uncertain_cost_high_usd": usd(uncertain(t).map(|r| r.1)),
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!("json! of an object literal"),
    }
}

/// The low–high cost of the requests priced where the change day is unknown, if any.
fn uncertain(t: &Totals) -> Option<(Usd, Usd)> {
    (t.uncertain_requests > 0).then_some(t.uncertain_range)
}

/// Metric columns of the CSV, after the keys.
const CSV_METRICS: &[&str] = &[
    "requests",
    "input_tokens",
    "input_cached_tokens",
    "output_tokens",
    "output_reasoning_tokens",
    "cost_usd",
    "priced_requests",
    "unpriced_requests",
    "no_usage_requests",
    "asap_cost_usd",
    "savings_usd",
    "cache_hit_ratio",
    "reasoning_share",
    "assumed_window_requests",
    "cached_gt_input",
    "reasoning_gt_output",
    "total_ne_sum",
    "alias_mismatch",
    "dropped_fields",
    "uncertain_requests",
    "uncertain_cost_low_usd",
    "uncertain_cost_high_usd",
];

/// One CSV line per group (no total line, so a spreadsheet sum is right); money exact.
fn csv(report: &Report) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = report.keys.iter().map(|k| k.name()).collect();
    header.extend(CSV_METRICS);
    w.write_record(&header)?;
    let opt = |v: Option<Usd>| v.map(Usd::exact).unwrap_or_default();
    let fl = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for g in &report.groups {
        let t = &g.totals;
        let mut rec: Vec<String> = g
            .key
            .iter()
            .map(|k| k.clone().unwrap_or_default())
            .collect();
        rec.extend([
            t.requests.to_string(),
            t.input_tokens.to_string(),
            t.input_cached_tokens.to_string(),
            t.output_tokens.to_string(),
            t.output_reasoning_tokens.to_string(),
            opt(t.cost_usd()),
            t.priced_requests.to_string(),
            t.unpriced_requests().to_string(),
            t.no_usage_requests.to_string(),
            opt(t.asap_cost_usd()),
            opt(t.savings_usd()),
            fl(t.cache_hit_ratio()),
            fl(t.reasoning_share()),
            t.assumed_window_requests.to_string(),
        ]);
        rec.extend(t.anomalies.named().iter().map(|(_, n)| n.to_string()));
        let range = uncertain(t);
        rec.extend([
            t.uncertain_requests.to_string(),
            opt(range.map(|r| r.0)),
            opt(range.map(|r| r.1)),
        ]);
        w.write_record(&rec)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

fn requests(n: u64) -> String {
    format!("{n} request{}", if n == 1 { "" } else { "s" })
}

/// The lines under the table: prices used, then warnings and assumptions.
pub(crate) fn notes(report: &Report, prices: &PriceTable) -> Vec<String> {
    let mut v = price_notes(prices);
    v.extend(period_note(report));
    v.extend(unpriced_note(report));
    v.extend(uncertain_note(report));
    v.extend(assumption_notes(report));
    v
}

/// Which price file(s) priced the report.
fn price_notes(prices: &PriceTable) -> Vec<String> {
    let mut v = vec![format!(
        "prices: version {}{}",
        prices.version(),
        prices
            .source()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default()
    )];
    if prices
        .aliases
        .get("balanced")
        .is_some_and(|w| w == "standard")
    {
        v.push("prices: window 'standard' is priced as Sail's page lists it, labelled 'Balanced' there".into());
    }
    if prices.layers.len() > 1 {
        let files: Vec<String> = prices
            .layers
            .iter()
            .map(|o| format!("{} [{}]", o.file, o.version))
            .collect();
        v.push(format!("price files: {}", files.join(" over ")));
    }
    v
}

/// The dates the report covers, when `--since` / `--until` narrowed it.
fn period_note(report: &Report) -> Option<String> {
    let since = report
        .since
        .as_deref()
        .map(|d| format!("from {d} (inclusive)"));
    let until = report.until.as_deref().map(|d| format!("before {d}"));
    let both: Vec<String> = since.into_iter().chain(until).collect();
    (!both.is_empty()).then(|| format!("period: created_at {}, UTC", both.join(" and ")))
}

/// The warning about requests left out of the cost, naming the first few model × window.
pub(crate) fn unpriced_note(report: &Report) -> Option<String> {
    let t = &report.total;
    if t.unpriced_requests() == 0 {
        return None;
    }
    let mut what: Vec<String> = report
        .unpriced
        .iter()
        .take(5)
        .map(|u| {
            format!(
                "{} × '{}' ({})",
                u.model
                    .as_deref()
                    .map_or("no model".to_owned(), |m| format!("'{m}'")),
                u.window,
                u.requests
            )
        })
        .collect();
    if report.unpriced.len() > 5 {
        what.push(format!("and {} more", report.unpriced.len() - 5));
    }
    if t.no_usage_requests > 0 {
        what.push(format!("no usage object ({})", t.no_usage_requests));
    }
    let fix = if report.unpriced.is_empty() {
        "their tokens are unknown"
    } else {
        "add their prices with --prices FILE"
    };
    Some(format!(
        "warning: {} of {} requests are unpriced and not in the cost: {}; {fix}",
        t.unpriced_requests(),
        t.requests,
        what.join(", ")
    ))
}

/// The warning about requests priced where the change day is unknown, with the range.
pub(crate) fn uncertain_note(report: &Report) -> Option<String> {
    let t = &report.total;
    let (low, high) = uncertain(t)?;
    let what: Vec<String> = report
        .uncertain
        .iter()
        .map(|((m, w), n)| format!("'{m}' × '{w}' ({n})"))
        .collect();
    Some(format!(
        "warning: {} fall between two observations of a price that disagree (change day unknown): \
         priced at the earlier one; they cost between ${} and ${}: {} (see `sail-export prices`)",
        requests(t.uncertain_requests),
        low.rounded(4),
        high.rounded(4),
        what.join(", ")
    ))
}

/// What was assumed or left out: default window, aliases, anomalies, rows not fetched, the
/// basis of the savings.
fn assumption_notes(report: &Report) -> Vec<String> {
    let t = &report.total;
    let mut v = Vec::new();
    if t.assumed_window_requests > 0 {
        let marked = match report.keys.contains(&Key::CompletionWindow) {
            true => format!(
                ", marked '{}{}' in the table",
                report.default_window,
                table::ASSUMED
            ),
            false => String::new(),
        };
        v.push(format!(
            "note: {} had no completion_window; priced as '{}' (Sail's documented batch \
             default){marked}",
            requests(t.assumed_window_requests),
            report.default_window
        ));
    }
    for ((w, to), n) in &report.aliases_used {
        v.push(format!(
            "note: window '{w}' priced as '{to}' (alias) for {}",
            requests(*n)
        ));
    }
    if t.anomalies.sum() > 0 {
        let parts: Vec<String> = t
            .anomalies
            .named()
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        v.push(format!("anomalies in usage: {}", parts.join(", ")));
    }
    if report.not_fetched_requests > 0 {
        v.push(format!(
            "note: {} not fetched (pending, not_found or error) not counted",
            requests(report.not_fetched_requests)
        ));
    }
    if t.comparable_requests < t.priced_requests {
        v.push(format!(
            "note: 'at asap' and 'saved' cover the {} of {} priced requests whose model has an asap list price",
            t.comparable_requests, t.priced_requests
        ));
    }
    v
}
