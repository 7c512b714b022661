//! The simulator's usage API (`GET /v1/usage`, `/v1/usage/breakdown`), shaped like Sail's:
//! what the account was billed per UTC day and model, in integer cents and tokens, computed
//! from the very items the batch routes serve. Knobs ([`Billing`]) make it bill at other
//! prices or bill tokens no batch holds, so a reconcile has something to find.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State as Shared};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::data::ItemKind;
use super::server::{envelope, State};
use crate::cost::report::price;
use crate::prices::{normalize_window, PriceTable, Usd};
use crate::time::{day, now_unix};

/// What the usage endpoints bill besides the served items at the bundled prices.
#[derive(Debug, Clone, Default)]
pub struct Billing {
    /// The table the bill is priced with instead of the bundled one: a report made at the
    /// bundled prices then disagrees with the bill where the two differ.
    pub prices: Option<PriceTable>,
    /// Uncached input tokens billed each day to each model with usage, in requests no batch
    /// holds (as another key's or a request outside the Batch API would be): an export of
    /// every batch then covers only part of the bill.
    pub extra_input_tokens: i64,
}

/// One day × model of the bill.
#[derive(Debug, Default, Clone, Copy)]
struct Line {
    /// Exact cost, rounded to cents only when served.
    cost: Usd,
    /// Uncached input, cached input, output tokens.
    tokens: [i64; 3],
}

/// Femto-dollars in a cent.
const FEMTO_PER_CENT: i128 = 10_000_000_000_000;

impl Line {
    /// The cost in whole cents, half away from zero (Sail bills integer cents).
    fn cents(&self) -> i64 {
        let f = self.cost.femto();
        ((f + FEMTO_PER_CENT / 2) / FEMTO_PER_CENT) as i64
    }

    fn json(&self) -> Value {
        let [input, cached, output] = self.tokens;
        json!({
            "total": self.cents(),
            "tokens": input + cached + output,
            "input_tokens": input,
            "output_tokens": output,
            "cached_tokens": cached,
        })
    }
}

/// The bill: (UTC day, model) → line, over every finished item of every batch as it stands.
fn bill(st: &State) -> BTreeMap<(i64, &'static str), Line> {
    let billing = &st.cfg.billing;
    let bundled;
    let prices = match &billing.prices {
        Some(p) => p,
        None => {
            bundled = PriceTable::bundled();
            &bundled
        }
    };
    let progress = st.progress();
    let mut lines: BTreeMap<(i64, &'static str), Line> = BTreeMap::new();
    for b in 0..st.data.batches() {
        for i in 0..st.data.items() {
            let kind = st.data.kind_at(b, i, progress);
            if kind.is_unfinished() || kind == ItemKind::Expired {
                continue;
            }
            let item = st.data.billed(b, i, kind);
            let [input, cached, output] = item.tokens;
            let cached = cached.clamp(0, input);
            let tokens = [input - cached, cached, output];
            let window = item
                .window
                .map_or_else(|| prices.default_window().to_owned(), normalize_window);
            let d = day::of_unix(item.created_at);
            add(
                lines.entry((d, item.model)).or_default(),
                prices,
                item.model,
                &window,
                d,
                tokens,
            );
        }
    }
    if billing.extra_input_tokens > 0 {
        for ((d, model), line) in lines.iter_mut() {
            let extra = [billing.extra_input_tokens, 0, 0];
            add(line, prices, model, prices.default_window(), *d, extra);
        }
    }
    lines
}

/// Adds `tokens` of `model` in `window` on day `d` to `line`, priced (unpriced: tokens only).
fn add(line: &mut Line, prices: &PriceTable, model: &str, window: &str, d: i64, tokens: [i64; 3]) {
    if let Some(m) = prices.lookup(model, window, Some(d)) {
        line.cost += price(&tokens, m.entry);
    }
    for (sum, t) in line.tokens.iter_mut().zip(tokens) {
        *sum += t;
    }
}

/// Query of both usage routes.
#[derive(Debug, Deserialize)]
pub(crate) struct UsageQuery {
    range: Option<String>,
}

/// The first UTC day a range covers (it ends today); `None` for a range it does not know.
fn first_day(range: &str) -> Option<i64> {
    let today = day::of_unix(now_unix());
    match range {
        "24h" => Some(today),
        "7d" => Some(today - 6),
        "30d" => Some(today - 29),
        // The billing period: the calendar month so far.
        "period" => {
            let first = format!("{}-01", &day::format(today)[..7]);
            Some(day::parse(&first).unwrap_or(today))
        }
        _ => None,
    }
}

/// The 400 for a range [`first_day`] does not know.
fn bad_range() -> Response {
    envelope(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "range must be one of 24h, 7d, 30d, period",
    )
}

/// `GET /v1/usage/breakdown?range=`: one bucket per day of the range, oldest first, with
/// the cents and tokens of each model, and the range's totals per model.
pub(crate) async fn breakdown(
    Shared(st): Shared<Arc<State>>,
    Query(q): Query<UsageQuery>,
) -> Response {
    let range = q.range.unwrap_or_else(|| "30d".to_owned());
    let Some(from) = first_day(&range) else {
        return bad_range();
    };
    let lines = bill(&st);
    let today = day::of_unix(now_unix());
    let mut per_model: BTreeMap<&str, Line> = BTreeMap::new();
    let data: Vec<Value> = (from..=today)
        .map(|d| {
            let mut models = serde_json::Map::new();
            let mut total = 0;
            for ((_, model), line) in lines.range((d, "")..(d + 1, "")) {
                models.insert((*model).to_owned(), line.json());
                total += line.cents();
                let sum = per_model.entry(model).or_default();
                sum.cost += line.cost;
                sum.tokens
                    .iter_mut()
                    .zip(line.tokens)
                    .for_each(|(s, t)| *s += t);
            }
            json!({"timestamp": day::format(d), "total": total, "models": models, "slas": {}})
        })
        .collect();
    let models: Vec<Value> = per_model
        .iter()
        .map(|(m, line)| {
            let mut v = line.json();
            v["model"] = json!(m);
            v
        })
        .collect();
    let body = json!({"object": "usage.breakdown", "range": range, "granularity": "day", "data": data, "models": models});
    axum::Json(body).into_response()
}

/// `GET /v1/usage?range=`: the range's spend and tokens (the fields a summary carries that
/// the simulator can know; no balance).
pub(crate) async fn summary(
    Shared(st): Shared<Arc<State>>,
    Query(q): Query<UsageQuery>,
) -> Response {
    let range = q.range.unwrap_or_else(|| "30d".to_owned());
    let Some(from) = first_day(&range) else {
        return bad_range();
    };
    let lines = bill(&st);
    let kept: Vec<(&(i64, &str), &Line)> = lines.iter().filter(|((d, _), _)| *d >= from).collect();
    let spend: i64 = kept.iter().map(|(_, l)| l.cents()).sum();
    let sum = |k: usize| kept.iter().map(|(_, l)| l.tokens[k]).sum::<i64>();
    let models: std::collections::BTreeSet<&str> = kept.iter().map(|((_, m), _)| *m).collect();
    let days = (day::of_unix(now_unix()) - from + 1).max(1);
    let body = json!({
        "object": "usage.summary",
        "range": range,
        "period_spend": spend,
        "balance_unavailable": true,
        "plan_type": "pro",
        "model_count": models.len(),
        "tokens": {"total": sum(0) + sum(1) + sum(2), "input": sum(0), "output": sum(2), "cached": sum(1)},
        "avg_cost_per_day": spend / days,
    });
    axum::Json(body).into_response()
}
