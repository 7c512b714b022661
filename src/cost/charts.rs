//! The HTML report's charts, each a fold of the report's groups (by model, window, day and
//! label) drawn by `cost::svg`: spend over time by model, spend and savings by window,
//! cache hits per model, spend by label, the most expensive requests and the unpriced and
//! uncertain shares. Each chart names a bounded number of rows, whatever the export holds.

use std::collections::BTreeMap;

use super::html::Uncertain;
use super::report::Report;
use super::svg::{self, Bar, Part, Series};
use super::table::grouped;
use super::top::Costly;
use crate::prices::Usd;

/// Models named in the spend-per-day chart; the rest are one "other models" series.
const SERIES: usize = 7;
/// Labels (and models in the cache chart) named; the rest are one "other" row.
const ROWS: usize = 20;
/// Past this many days, spend over time is drawn per month.
const MAX_DAYS: usize = 92;

/// What one fold of the groups adds up.
#[derive(Default, Clone, Copy)]
struct Sums {
    requests: u64,
    priced: u64,
    cost: Usd,
    comparable: u64,
    comparable_cost: Usd,
    asap_cost: Usd,
    input: i64,
    cached: i64,
}

/// The report's groups summed by the key values at `at` (indexes into `html::keys`).
fn fold(report: &Report, at: &[usize]) -> BTreeMap<Vec<Option<String>>, Sums> {
    let mut out: BTreeMap<Vec<Option<String>>, Sums> = BTreeMap::new();
    for g in &report.groups {
        let value = |i: usize| g.key.get(i).cloned().flatten();
        // A batch without a label is shown by its id rather than lumped into "(none)".
        let key = at
            .iter()
            .map(|&i| match i {
                LABEL => value(LABEL).or_else(|| value(BATCH)),
                _ => value(i),
            })
            .collect();
        let (s, t) = (out.entry(key).or_default(), &g.totals);
        s.requests += t.requests;
        s.priced += t.priced_requests;
        s.cost += t.cost;
        s.comparable += t.comparable_requests;
        s.comparable_cost += t.comparable_cost;
        s.asap_cost += t.asap_cost;
        s.input += t.input_tokens;
        s.cached += t.input_cached_tokens;
    }
    out
}

const MODEL: usize = 0;
const WINDOW: usize = 1;
const DAY: usize = 2;
const LABEL: usize = 3;
const BATCH: usize = 4;

pub(super) fn name(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "(none)".to_owned())
}

/// Money for people: cents from a dollar up, four decimals below.
pub(super) fn money(u: Usd) -> String {
    dollars(u.to_f64())
}

fn dollars(v: f64) -> String {
    match v.abs() {
        a if a >= 1000.0 => format!("${}", grouped(v.round() as i64)),
        a if a >= 1.0 => format!("${v:.2}"),
        0.0 => "$0".to_owned(),
        _ => format!("${v:.4}"),
    }
}

fn pct(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.1}%", part / whole * 100.0)
    } else {
        "—".to_owned()
    }
}

/// Spend per day (or per month past [`MAX_DAYS`]) stacked by model: the dearest models
/// named, the rest one series. Returns the chart and its legend.
pub(super) fn spend_over_time(report: &Report) -> (String, Vec<String>) {
    let by = fold(report, &[DAY, MODEL]);
    let days: Vec<&String> = by.keys().filter_map(|k| k[0].as_ref()).collect();
    let mut distinct = days.clone();
    distinct.dedup();
    let monthly = distinct.len() > MAX_DAYS;
    // A day is YYYY-MM-DD; its month, YYYY-MM.
    let period = |d: &String| match d.get(..7) {
        Some(month) if monthly => month.to_owned(),
        _ => d.clone(),
    };
    let mut cats: Vec<String> = distinct.iter().map(|d| period(d)).collect();
    cats.dedup();
    let mut ranked = ranked(fold(report, &[MODEL]), |s| s.cost.femto());
    ranked.retain(|(_, s)| s.priced > 0);
    let named = if ranked.len() > SERIES + 1 {
        SERIES
    } else {
        ranked.len()
    };
    let mut series: Vec<Series> = ranked[..named]
        .iter()
        .map(|(m, _)| Series {
            name: name(m),
            values: vec![0.0; cats.len()],
        })
        .collect();
    if ranked.len() > named {
        series.push(Series {
            name: format!("{} other models", ranked.len() - named),
            values: vec![0.0; cats.len()],
        });
    }
    for (k, s) in &by {
        let Some(d) = &k[0] else { continue };
        let c = cats.binary_search(&period(d)).unwrap_or_default();
        let m = ranked.iter().position(|(m, _)| *m == k[1]).unwrap_or(0);
        series[m.min(named)].values[c] += s.cost.to_f64();
    }
    let legend = series.iter().map(|s| s.name.clone()).collect();
    let label = if monthly {
        "spend per month by model"
    } else {
        "spend per day by model"
    };
    (svg::columns(label, &cats, &series, dollars), legend)
}

/// The fold by one key, highest `measure` first (ties by key).
fn ranked(
    by: BTreeMap<Vec<Option<String>>, Sums>,
    measure: fn(&Sums) -> i128,
) -> Vec<(Option<String>, Sums)> {
    let mut v: Vec<(Option<String>, Sums)> = by
        .into_iter()
        .map(|(mut k, s)| (k.swap_remove(0), s))
        .collect();
    v.sort_by_key(|(_, s)| std::cmp::Reverse(measure(s)));
    v
}

/// Per window: what was paid and what was saved against asap's price for the same tokens.
pub(super) fn windows_chart(report: &Report) -> String {
    let by = fold(report, &[WINDOW]);
    let saved = |s: &Sums| s.asap_cost - s.comparable_cost;
    let max = by
        .values()
        .map(|s| (s.cost + saved(s)).to_f64())
        .fold(0.0, f64::max);
    let rows: Vec<Bar> = by
        .iter()
        .filter(|(_, s)| s.priced > 0)
        .map(|(k, s)| {
            let w = name(&k[0]);
            let saved = saved(s);
            let mut parts = vec![Part {
                class: "paid",
                value: s.cost.to_f64(),
                title: format!("{w}: paid {}", money(s.cost)),
            }];
            let figure = if s.comparable == 0 {
                format!("{} (no asap price)", money(s.cost))
            } else {
                parts.push(Part {
                    class: "saved",
                    value: saved.to_f64(),
                    title: format!("{w}: {} saved against asap", money(saved)),
                });
                let ratio = pct(saved.to_f64(), s.asap_cost.to_f64());
                format!("{} paid, {} saved ({ratio})", money(s.cost), money(saved))
            };
            Bar {
                label: w,
                parts,
                figure,
            }
        })
        .collect();
    svg::bars("spend and savings by window against asap", &rows, max)
}

/// Cached share of input tokens per model (the models with the most input first).
pub(super) fn cache_chart(report: &Report) -> String {
    let ranked = ranked(fold(report, &[MODEL]), |s| s.input.into());
    let rows: Vec<Bar> = ranked
        .iter()
        .filter(|(_, s)| s.input > 0)
        .take(ROWS)
        .map(|(m, s)| {
            let ratio = s.cached as f64 / s.input as f64;
            Bar {
                label: name(m),
                parts: vec![Part {
                    class: "ratio",
                    value: ratio,
                    title: format!(
                        "{}: {} of {} input tokens cached",
                        name(m),
                        grouped(s.cached),
                        grouped(s.input)
                    ),
                }],
                figure: format!(
                    "{} of {} tokens",
                    pct(s.cached as f64, s.input as f64),
                    grouped(s.input)
                ),
            }
        })
        .collect();
    svg::bars("cache-hit ratio per model", &rows, 1.0)
}

/// Spend per label, dearest first: the first [`ROWS`] named, the rest one row.
pub(super) fn labels_chart(report: &Report) -> String {
    let ranked = ranked(fold(report, &[LABEL]), |s| s.cost.femto());
    let mut rows: Vec<(String, Sums)> = ranked
        .iter()
        .take(ROWS)
        .map(|(l, s)| (name(l), *s))
        .collect();
    if ranked.len() > ROWS {
        let mut rest = Sums::default();
        for (_, s) in &ranked[ROWS..] {
            rest.cost += s.cost;
            rest.requests += s.requests;
        }
        rows.push((format!("{} others", ranked.len() - ROWS), rest));
    }
    let max = rows
        .iter()
        .map(|(_, s)| s.cost.to_f64())
        .fold(0.0, f64::max);
    let bars: Vec<Bar> = rows
        .into_iter()
        .map(|(label, s)| Bar {
            parts: vec![Part {
                class: "s4",
                value: s.cost.to_f64(),
                title: format!("{label}: {}", money(s.cost)),
            }],
            figure: format!(
                "{} · {} requests",
                money(s.cost),
                grouped(s.requests as i64)
            ),
            label,
        })
        .collect();
    svg::bars("spend by label", &bars, max)
}

/// The most expensive requests as bars, labelled by custom_id.
pub(super) fn top_chart(top: &[Costly]) -> String {
    let max = top.first().map_or(0.0, |c| c.cost.to_f64());
    let bars: Vec<Bar> = top
        .iter()
        .map(|c| Bar {
            label: c.custom_id.clone(),
            parts: vec![Part {
                class: "s5",
                value: c.cost.to_f64(),
                title: format!("{} in {}: {}", c.custom_id, c.batch_id, money(c.cost)),
            }],
            figure: money(c.cost),
        })
        .collect();
    svg::bars("the most expensive requests", &bars, max)
}

/// The shares of requests left out of the cost (unpriced) or priced with an unsure price.
pub(super) fn shares_chart(report: &Report, uncertain: Option<Uncertain>) -> String {
    let t = &report.total;
    let all = t.requests as f64;
    let share = |class, n: u64, what: &str| Part {
        class,
        value: n as f64,
        title: format!("{} {what} ({})", grouped(n as i64), pct(n as f64, all)),
    };
    let mut rows = vec![Bar {
        label: "unpriced requests".into(),
        parts: vec![
            share("unpriced", t.unpriced_requests(), "unpriced"),
            share("priced", t.priced_requests, "priced"),
        ],
        figure: format!(
            "{} of {} ({})",
            grouped(t.unpriced_requests() as i64),
            grouped(t.requests as i64),
            pct(t.unpriced_requests() as f64, all)
        ),
    }];
    if let Some(u) = uncertain {
        rows.push(Bar {
            label: "uncertain price".into(),
            parts: vec![
                share("uncertain", u.requests, "at an uncertain price"),
                share("priced", t.requests.saturating_sub(u.requests), "other"),
            ],
            figure: format!(
                "{} ({}), {}–{}",
                grouped(u.requests as i64),
                pct(u.requests as f64, all),
                money(u.low),
                money(u.high)
            ),
        });
    }
    svg::bars("unpriced and uncertain shares", &rows, all)
}
