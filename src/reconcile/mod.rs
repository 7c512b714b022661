//! Reconciling exports with what Sail billed (pure, no I/O): the exports' scans priced per
//! UTC day × model, set beside the usage API's cents and tokens for the same day and model,
//! and a verdict for each. Where the exports hold every billed token the money must agree to
//! the cent, else the price table is wrong for that model and day; where they hold fewer, the
//! share they cover is the finding.

pub mod render;

use std::collections::BTreeMap;

use crate::api::usage::{Breakdown, ModelUsage};
use crate::cost::report::price;
use crate::cost::scan::Scan;
use crate::prices::{normalize_window, Entry, PriceTable, Rate, Usd};

/// Femto-dollars (the unit of [`Usd`]) in a cent.
const FEMTO_PER_CENT: f64 = 1e13;

/// The windows tried when asking whether the bill is every token at one window's price:
/// the usage API's own window names.
const WINDOWS: [&str; 4] = ["asap", "priority", "standard", "flex"];

/// The price entry for `model` in (normalised) `window` on UTC `day`: the one place
/// reconcile asks the price table, so a dated lookup can take its place.
fn price_for<'a>(prices: &'a PriceTable, model: &str, window: &str, day: i64) -> Option<&'a Entry> {
    prices.lookup(model, window, Some(day)).map(|m| m.entry)
}

/// What the exports hold for one day × model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exported {
    /// Fetched rows.
    pub requests: u64,
    /// Billed tokens of the rows with usage: uncached input, cached input, output.
    pub tokens: [i64; 3],
    /// The same, per window as priced (the row's own, or the default).
    pub by_window: BTreeMap<String, [i64; 3]>,
    /// Cost of the priced rows.
    pub cost: Usd,
    /// Rows with usage that got no price.
    pub unpriced_requests: u64,
}

impl Exported {
    /// Every billed token.
    pub fn all_tokens(&self) -> i64 {
        self.tokens.iter().sum()
    }

    /// The cost in cents, exactly (as a float).
    pub fn cents(&self) -> f64 {
        self.cost.femto() as f64 / FEMTO_PER_CENT
    }
}

/// The exports' rows per (UTC day, model), and what could not be placed.
#[derive(Debug, Default)]
pub struct Exports {
    /// (day, model) → what the exports hold.
    pub lines: BTreeMap<(i64, String), Exported>,
    /// Fetched rows without a model or a created_at.
    pub unplaced_requests: u64,
}

/// Prices every bucket of the scans and sums them per day × model.
pub fn exported(scans: Vec<Scan>, prices: &PriceTable) -> Exports {
    let mut out = Exports::default();
    for b in scans.into_iter().flat_map(|s| s.buckets) {
        let (Some(model), Some(day)) = (b.model, b.day) else {
            out.unplaced_requests += b.totals.requests;
            continue;
        };
        let window = b
            .window
            .as_deref()
            .map(normalize_window)
            .filter(|w| !w.is_empty());
        let window = window.unwrap_or_else(|| prices.default_window().to_owned());
        let line = out.lines.entry((day, model.clone())).or_default();
        line.requests += b.totals.requests;
        if b.usage_rows == 0 {
            continue;
        }
        match price_for(prices, &model, &window, day) {
            Some(e) => line.cost += price(&b.billed, e),
            None => line.unpriced_requests += b.usage_rows,
        }
        let w = line.by_window.entry(window).or_default();
        for ((sum, per_window), t) in line.tokens.iter_mut().zip(w.iter_mut()).zip(b.billed) {
            *sum += t;
            *per_window += t;
        }
    }
    out
}

/// What one day × model comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every billed token is in the exports and the money agrees to the cent.
    Agrees,
    /// Every billed token is in the exports but the money differs: a price is wrong.
    WrongPrice,
    /// Every billed token is in the exports but some rows have no price.
    Unpriced,
    /// The exports hold part of the billed tokens (the coverage is the finding).
    Partial,
    /// The exports hold part of the billed tokens yet cost more than the whole bill.
    OverBill,
    /// Billed, but the exports hold none of it.
    NotExported,
    /// The exports hold tokens the bill does not have.
    NotBilled,
    /// On the first day of a rolling range, which may be cut short: the exports hold more
    /// than that day's bill, which is not judged.
    RangeEdge,
    /// The bill's line lacks its tokens or cents.
    Unreadable,
}

impl Verdict {
    /// The name used in JSON and the table.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Agrees => "agrees",
            Verdict::WrongPrice => "wrong_price",
            Verdict::Unpriced => "unpriced",
            Verdict::Partial => "partial",
            Verdict::OverBill => "exceeds_bill",
            Verdict::NotExported => "not_exported",
            Verdict::NotBilled => "not_billed",
            Verdict::RangeEdge => "range_edge",
            Verdict::Unreadable => "unreadable",
        }
    }

    /// Whether this is a disagreement (exit 3).
    pub fn disagrees(self) -> bool {
        matches!(
            self,
            Verdict::WrongPrice | Verdict::Unpriced | Verdict::OverBill | Verdict::NotBilled
        )
    }
}

/// A window's prices scaled so the exports' tokens cost what was billed.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaled {
    /// The window.
    pub window: String,
    /// Input, cached input, output, USD per 1M tokens.
    pub prices: [f64; 3],
}

/// The prices that would explain a bill the table does not.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// Billed ÷ computed.
    pub factor: f64,
    /// Each window's prices times `factor`.
    pub scaled: Vec<Scaled>,
    /// A window whose price, for every token of the day, makes the bill to the cent.
    pub matching_window: Option<String>,
}

/// One day × model, compared.
#[derive(Debug, Clone)]
pub struct Line {
    /// UTC day, days since 1970-01-01.
    pub day: i64,
    /// The model.
    pub model: String,
    /// The bill's line, `None` when the bill has none.
    pub billed: Option<ModelUsage>,
    /// What the exports hold.
    pub exported: Exported,
    /// Exported ÷ billed tokens, when the bill has tokens.
    pub coverage: Option<f64>,
    /// The finding.
    pub verdict: Verdict,
    /// For a wrong price: the price that would explain the bill.
    pub explanation: Option<Explanation>,
}

/// The whole comparison.
#[derive(Debug, Clone)]
pub struct Reconciliation {
    /// The range asked for.
    pub range: String,
    /// First and last UTC day the bill covers (`None`: it has no day).
    pub span: Option<(i64, i64)>,
    /// Every day × model, by day then model.
    pub lines: Vec<Line>,
    /// Exported rows on days outside the bill's span (not compared).
    pub outside_requests: u64,
    /// Exported rows without a model or created_at (not compared).
    pub unplaced_requests: u64,
    /// Buckets of the bill whose day could not be read.
    pub unreadable_days: usize,
}

impl Reconciliation {
    /// Whether any line disagrees.
    pub fn disagrees(&self) -> bool {
        self.lines.iter().any(|l| l.verdict.disagrees())
    }
}

/// Compares the exports with the bill. `range` is what was asked (`7d`, `30d`, `period`):
/// the first day of a rolling range may be cut short, so holding more than it is not judged.
pub fn compare(
    range: &str,
    bill: &Breakdown,
    exports: Exports,
    prices: &PriceTable,
) -> Reconciliation {
    let span = bill
        .days
        .iter()
        .map(|d| d.day)
        .min()
        .zip(bill.days.iter().map(|d| d.day).max());
    let mut billed: BTreeMap<(i64, String), ModelUsage> = BTreeMap::new();
    for d in &bill.days {
        for m in &d.models {
            billed.insert((d.day, m.model.clone()), m.clone());
        }
    }
    let mut out = Reconciliation {
        range: range.to_owned(),
        span,
        lines: Vec::new(),
        outside_requests: 0,
        unplaced_requests: exports.unplaced_requests,
        unreadable_days: bill.unreadable_days,
    };
    let mut held = exports.lines;
    let inside = |day: i64| span.is_some_and(|(a, b)| (a..=b).contains(&day));
    held.retain(|(day, _), e| {
        let keep = inside(*day);
        if !keep {
            out.outside_requests += e.requests;
        }
        keep
    });
    let rolling = range != "period";
    let mut keys: Vec<(i64, String)> = billed.keys().chain(held.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    for (day, model) in keys {
        let b = billed.remove(&(day, model.clone()));
        let e = held.remove(&(day, model.clone())).unwrap_or_default();
        let edge = rolling && span.is_some_and(|(first, _)| first == day);
        out.lines.push(judge(day, model, b, e, edge, prices));
    }
    out
}

/// The verdict on one day × model.
fn judge(
    day: i64,
    model: String,
    b: Option<ModelUsage>,
    e: Exported,
    edge: bool,
    prices: &PriceTable,
) -> Line {
    let held = e.all_tokens();
    let bill = b.as_ref().and_then(|b| b.all_tokens().zip(b.cents));
    let coverage = b
        .as_ref()
        .and_then(ModelUsage::all_tokens)
        .filter(|t| *t > 0)
        .map(|t| held as f64 / t as f64);
    let mut explanation = None;
    let verdict = match bill {
        None if b.is_none() && held == 0 => Verdict::Agrees,
        None if b.is_none() => {
            if edge {
                Verdict::RangeEdge
            } else {
                Verdict::NotBilled
            }
        }
        None => Verdict::Unreadable,
        Some((tokens, _)) if held > tokens => {
            if edge {
                Verdict::RangeEdge
            } else {
                Verdict::NotBilled
            }
        }
        Some(_) if held == 0 => Verdict::NotExported,
        Some((tokens, cents)) if held < tokens => {
            if e.cents() >= cents + 1.0 {
                Verdict::OverBill
            } else {
                Verdict::Partial
            }
        }
        Some(_) if e.unpriced_requests > 0 => Verdict::Unpriced,
        Some((_, cents)) if (e.cents() - cents).abs() < 1.0 => Verdict::Agrees,
        Some((_, cents)) => {
            explanation = Some(explain(day, &model, &e, cents, prices));
            Verdict::WrongPrice
        }
    };
    Line {
        day,
        model,
        billed: b,
        exported: e,
        coverage,
        verdict,
        explanation,
    }
}

/// The prices that would make the exports' tokens cost `cents`: each window's prices scaled
/// by one factor (one bill cannot tell the three prices apart), and a window whose price for
/// every token makes the bill, if one does.
fn explain(day: i64, model: &str, e: &Exported, cents: f64, prices: &PriceTable) -> Explanation {
    let factor = if e.cost.femto() > 0 {
        cents / e.cents()
    } else {
        f64::NAN
    };
    let usd = |r: Rate| r.usd() * factor;
    let scaled = e
        .by_window
        .keys()
        .filter_map(|w| price_for(prices, model, w, day).map(|p| (w, p)))
        .map(|(w, p)| Scaled {
            window: w.clone(),
            prices: [usd(p.input), usd(p.cached_input), usd(p.output)],
        })
        .collect();
    let matching_window = WINDOWS
        .iter()
        .find(|w| {
            price_for(prices, model, w, day).is_some_and(|p| {
                let at = price(&e.tokens, p).femto() as f64 / FEMTO_PER_CENT;
                (at - cents).abs() < 1.0
            })
        })
        .map(|w| (*w).to_owned());
    Explanation {
        factor,
        scaled,
        matching_window,
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
