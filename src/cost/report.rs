//! The cost report: the scan's buckets (model × window × UTC day, plus the grouping keys)
//! are each priced in integers and folded into the requested groups.

use std::collections::BTreeMap;

use super::scan::{Bucket, Scan};
use crate::prices::{normalize_window, Entry, PriceTable, Usd};
use crate::time::day;

/// A grouping key of `cost --by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// The response's model.
    Model,
    /// The window the row was priced in (the default when the row had none, marked `*`).
    CompletionWindow,
    /// The batch.
    BatchId,
    /// The batch's label, as the API gave it when the batch was fetched.
    Label,
    /// The response's own status (completed, failed, incomplete, ...).
    Status,
    /// The UTC day of the response's created_at.
    Day,
    /// The UTC month (`YYYY-MM`) of the response's created_at.
    Month,
    /// A key of the request's metadata: the whole name, `metadata.` included.
    Metadata(String),
}

/// What `--by metadata.KEY` starts with.
pub(crate) const METADATA: &str = "metadata.";

impl Key {
    /// Every key but the metadata ones, in the order `--by` documents them.
    pub(crate) const ALL: [Key; 7] = [
        Key::Model,
        Key::CompletionWindow,
        Key::BatchId,
        Key::Label,
        Key::Status,
        Key::Day,
        Key::Month,
    ];

    /// The key's name, as typed after `--by` and used in JSON/CSV.
    pub(crate) fn name(&self) -> &str {
        match self {
            Key::Model => "model",
            Key::CompletionWindow => "completion_window",
            Key::BatchId => "batch_id",
            Key::Label => "label",
            Key::Status => "status",
            Key::Day => "day",
            Key::Month => "month",
            Key::Metadata(name) => name,
        }
    }

    /// The path in the metadata of a `metadata.KEY` key.
    pub(crate) fn metadata_path(&self) -> Option<&str> {
        match self {
            Key::Metadata(name) => name.strip_prefix(METADATA),
            _ => None,
        }
    }

    /// Parses a `--by` key (case-insensitive, but for what follows `metadata.`, which is
    /// kept as typed; `window` is accepted for completion_window, `batch` for batch_id).
    pub(crate) fn parse(s: &str) -> Option<Key> {
        let s = s.trim();
        if let Some(prefix) = s.get(..METADATA.len()) {
            let path = &s[METADATA.len()..];
            if prefix.eq_ignore_ascii_case(METADATA) && !path.is_empty() {
                return Some(Key::Metadata(format!("{METADATA}{path}")));
            }
        }
        let s = s.to_ascii_lowercase();
        match s.as_str() {
            "window" => return Some(Key::CompletionWindow),
            "batch" => return Some(Key::BatchId),
            _ => {}
        }
        Key::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// Per-row anomaly flags, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Anomalies {
    /// input_cached_tokens > input_tokens.
    pub cached_gt_input: u64,
    /// output_reasoning_tokens > output_tokens.
    pub reasoning_gt_output: u64,
    /// total_tokens ≠ input_tokens + output_tokens (where total is present).
    pub total_ne_sum: u64,
    /// prompt_tokens ≠ input_tokens or completion_tokens ≠ output_tokens (where present).
    pub alias_mismatch: u64,
    /// Rows whose `dropped_fields` names integer fields stored as NULL because their value
    /// was not exactly an integer in i64 range.
    pub dropped_fields: u64,
}

impl Anomalies {
    /// Every flag as (name, count), in report order.
    pub(crate) fn named(&self) -> [(&'static str, u64); 5] {
        [
            ("cached_gt_input", self.cached_gt_input),
            ("reasoning_gt_output", self.reasoning_gt_output),
            ("total_ne_sum", self.total_ne_sum),
            ("alias_mismatch", self.alias_mismatch),
            ("dropped_fields", self.dropped_fields),
        ]
    }

    /// Rows flagged, counting a row once per flag.
    pub(crate) fn sum(&self) -> u64 {
        self.named().iter().map(|(_, n)| n).sum()
    }

    fn add(&mut self, o: &Anomalies) {
        self.cached_gt_input += o.cached_gt_input;
        self.reasoning_gt_output += o.reasoning_gt_output;
        self.total_ne_sum += o.total_ne_sum;
        self.alias_mismatch += o.alias_mismatch;
        self.dropped_fields += o.dropped_fields;
    }
}

/// The figures of one group (or of the whole report).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    /// Fetched requests.
    pub requests: u64,
    /// Sum of input_tokens (cached included).
    pub input_tokens: i64,
    /// Sum of input_tokens_details.cached_tokens.
    pub input_cached_tokens: i64,
    /// Sum of output_tokens (reasoning included).
    pub output_tokens: i64,
    /// Sum of output_tokens_details.reasoning_tokens.
    pub output_reasoning_tokens: i64,
    /// Requests with usage and a price.
    pub priced_requests: u64,
    /// Requests fetched without a usage object (a subset of the unpriced).
    pub no_usage_requests: u64,
    /// Cost of the priced requests.
    pub cost: Usd,
    /// Priced requests whose model also has an `asap` list price.
    pub comparable_requests: u64,
    /// Cost of the comparable requests, at their own window's price.
    pub comparable_cost: Usd,
    /// Cost of the comparable requests at the `asap` list price.
    pub asap_cost: Usd,
    /// Requests with no completion_window, priced in the default window.
    pub assumed_window_requests: u64,
    /// Anomaly flag counts.
    pub anomalies: Anomalies,
    /// Priced requests whose day falls where the price changed on an unknown day.
    pub uncertain_requests: u64,
    /// Their cost at the lower and the higher of the two prices they may have been billed at.
    pub uncertain_range: (Usd, Usd),
}

impl Totals {
    /// Requests that got no price (unknown model/window, or no usage).
    pub fn unpriced_requests(&self) -> u64 {
        self.requests - self.priced_requests
    }

    /// The cost, `None` when no request is priced (never a silent 0).
    pub(crate) fn cost_usd(&self) -> Option<Usd> {
        (self.priced_requests > 0).then_some(self.cost)
    }

    /// What the comparable requests would have cost at `asap`; `None` when none is comparable.
    pub(crate) fn asap_cost_usd(&self) -> Option<Usd> {
        (self.comparable_requests > 0).then_some(self.asap_cost)
    }

    /// asap cost − own cost over the comparable requests.
    pub(crate) fn savings_usd(&self) -> Option<Usd> {
        (self.comparable_requests > 0).then(|| self.asap_cost - self.comparable_cost)
    }

    /// Savings as a fraction of the asap cost.
    pub(crate) fn savings_ratio(&self) -> Option<f64> {
        let (asap, saved) = (self.asap_cost_usd()?, self.savings_usd()?);
        (asap.femto() > 0).then(|| saved.femto() as f64 / asap.femto() as f64)
    }

    /// Cached / input tokens.
    pub(crate) fn cache_hit_ratio(&self) -> Option<f64> {
        ratio(self.input_cached_tokens, self.input_tokens)
    }

    /// Reasoning / output tokens.
    pub(crate) fn reasoning_share(&self) -> Option<f64> {
        ratio(self.output_reasoning_tokens, self.output_tokens)
    }

    fn add(&mut self, o: &Totals) {
        self.requests += o.requests;
        self.input_tokens += o.input_tokens;
        self.input_cached_tokens += o.input_cached_tokens;
        self.output_tokens += o.output_tokens;
        self.output_reasoning_tokens += o.output_reasoning_tokens;
        self.priced_requests += o.priced_requests;
        self.no_usage_requests += o.no_usage_requests;
        self.cost += o.cost;
        self.comparable_requests += o.comparable_requests;
        self.comparable_cost += o.comparable_cost;
        self.asap_cost += o.asap_cost;
        self.assumed_window_requests += o.assumed_window_requests;
        self.anomalies.add(&o.anomalies);
        self.uncertain_requests += o.uncertain_requests;
        self.uncertain_range.0 += o.uncertain_range.0;
        self.uncertain_range.1 += o.uncertain_range.1;
    }
}

fn ratio(num: i64, den: i64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The key values, in `--by` order (`None`: the row had no value).
    pub key: Vec<Option<String>>,
    /// Its figures.
    pub totals: Totals,
}

/// A model × window with requests that got no price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpriced {
    /// The model (`None`: the rows had none).
    pub model: Option<String>,
    /// The window looked up.
    pub window: String,
    /// Requests.
    pub requests: u64,
}

/// A whole cost report.
#[derive(Debug, Clone)]
pub struct Report {
    /// The grouping keys.
    pub keys: Vec<Key>,
    /// One entry per distinct key, sorted by key.
    pub groups: Vec<Group>,
    /// Everything.
    pub total: Totals,
    /// Which model × window pairs had no price, most requests first.
    pub unpriced: Vec<Unpriced>,
    /// (window, priced as) → requests priced through a window alias.
    pub aliases_used: BTreeMap<(String, String), u64>,
    /// (model, window priced) → requests priced where the change day is unknown.
    pub uncertain: BTreeMap<(String, String), u64>,
    /// The window assumed for rows with none.
    pub default_window: String,
    /// Rows of the export (after `--batch`) not counted because they are not `fetched`.
    pub not_fetched_requests: u64,
    /// The `--batch` filter, if any.
    pub batch: Option<String>,
    /// The `--since` date (UTC, inclusive), if any.
    pub since: Option<String>,
    /// The `--until` date (UTC, exclusive), if any.
    pub until: Option<String>,
}

/// The UTC month of a day, `YYYY-MM`: the day's `YYYY-MM-DD` without its day.
fn month(days: i64) -> String {
    let date = day::format(days);
    match date.rsplit_once('-') {
        Some((ym, _)) => ym.to_owned(),
        None => date,
    }
}

/// What billed tokens cost at one entry: (input − cached)·input + cached·cached_input + output·output.
pub(crate) fn price(billed: &[i64; 3], e: &Entry) -> Usd {
    e.cost(billed)
}

/// Builds the report from a scan of an export: pure, no I/O.
pub fn build(scanned: Scan, prices: &PriceTable, keys: &[Key], batch: Option<&str>) -> Report {
    let mut acc = Accumulator::default();
    let labels = &scanned.labels;
    for mut b in scanned.buckets {
        let window = acc.price(&mut b, prices);
        let mut meta = b.meta.iter();
        let key = keys
            .iter()
            .map(|k| match k {
                Key::Model => b.model.clone(),
                Key::CompletionWindow => Some(window.clone()),
                Key::BatchId => b.batch_id.clone(),
                Key::Label => b.batch_id.as_ref().and_then(|id| labels.get(id)).cloned(),
                Key::Status => b.status.clone(),
                Key::Day => b.day.map(day::format),
                Key::Month => b.day.map(month),
                Key::Metadata(_) => meta.next().cloned().flatten(),
            })
            .collect();
        acc.groups.entry(key).or_default().add(&b.totals);
    }
    let mut total = Totals::default();
    acc.groups.values().for_each(|t| total.add(t));
    let mut unpriced: Vec<Unpriced> = acc
        .unpriced
        .into_iter()
        .map(|((model, window), requests)| Unpriced {
            model,
            window,
            requests,
        })
        .collect();
    unpriced.sort_by_key(|u| std::cmp::Reverse(u.requests));
    Report {
        keys: keys.to_vec(),
        groups: acc
            .groups
            .into_iter()
            .map(|(key, totals)| Group { key, totals })
            .collect(),
        total,
        unpriced,
        aliases_used: acc.aliases_used,
        uncertain: acc.uncertain,
        default_window: prices.default_window().to_owned(),
        not_fetched_requests: scanned.not_fetched,
        batch: batch.map(str::to_owned),
        since: None,
        until: None,
    }
}

/// What `build` gathers while it prices the buckets one by one.
#[derive(Default)]
struct Accumulator {
    groups: BTreeMap<Vec<Option<String>>, Totals>,
    unpriced: BTreeMap<(Option<String>, String), u64>,
    aliases_used: BTreeMap<(String, String), u64>,
    uncertain: BTreeMap<(String, String), u64>,
}

impl Accumulator {
    /// Prices one bucket in its window (the default when it has none), and at `asap` for the
    /// savings; records unpriced requests and aliases used. Returns the window priced in.
    fn price(&mut self, b: &mut Bucket, prices: &PriceTable) -> String {
        let window = b
            .window
            .as_deref()
            .map(normalize_window)
            .filter(|w| !w.is_empty());
        if window.is_none() {
            b.totals.assumed_window_requests = b.totals.requests;
        }
        b.totals.no_usage_requests = b.totals.requests - b.usage_rows;
        let window = window.unwrap_or_else(|| prices.default_window().to_owned());
        if b.usage_rows == 0 {
            return window;
        }
        let lookup = |w: &str| b.model.as_deref().and_then(|m| prices.lookup(m, w, b.day));
        let Some(own) = lookup(&window) else {
            *self
                .unpriced
                .entry((b.model.clone(), window.clone()))
                .or_insert(0) += b.usage_rows;
            return window;
        };
        let asap = lookup("asap");
        let t = &mut b.totals;
        t.priced_requests = b.usage_rows;
        let priced = own.cost(&b.billed);
        t.cost = priced.usd;
        if let Some(range) = priced.range {
            t.uncertain_requests = b.usage_rows;
            t.uncertain_range = range;
            let key = (own.entry.model.clone(), own.entry.window.clone());
            *self.uncertain.entry(key).or_insert(0) += b.usage_rows;
        }
        if own.via_alias {
            *self
                .aliases_used
                .entry((window.clone(), own.entry.window.clone()))
                .or_insert(0) += b.usage_rows;
        }
        if let Some(a) = asap {
            t.comparable_requests = b.usage_rows;
            t.comparable_cost = t.cost;
            t.asap_cost = price(&b.billed, a.entry);
        }
        window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_the_utc_year_and_month_of_a_day() {
        assert_eq!(month(day::parse("2026-09-30").unwrap()), "2026-09");
        assert_eq!(month(day::parse("2026-10-01").unwrap()), "2026-10");
        assert_eq!(month(-1), "1969-12");
    }
}
