//! The most expensive requests of an export: one pass over its rows, each priced like
//! `cost --rows` prices it, keeping the `n` dearest in a heap (memory O(n), whatever the rows).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;

use super::report::price;
use super::rows::{self, billed, window_used};
use crate::prices::{PriceTable, Usd};
use crate::time::{day, Span};

/// One priced request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Costly {
    /// What it cost (compared first).
    pub cost: Usd,
    /// Its batch.
    pub batch_id: String,
    /// Its custom_id.
    pub custom_id: String,
    /// Its model.
    pub model: Option<String>,
    /// The window it was priced in.
    pub window: String,
    /// Input tokens (cached included) and output tokens.
    pub tokens: [i64; 2],
}

/// The `n` most expensive priced requests of the export at `path` (only `batch`'s, and only
/// those created in `span`), dearest first; ties broken by batch and
/// custom_id, so the list is the same on every run.
pub(crate) fn most_expensive(
    path: &Path,
    prices: &PriceTable,
    batch: Option<&str>,
    span: Span,
    n: usize,
) -> anyhow::Result<Vec<Costly>> {
    let mut heap: BinaryHeap<Reverse<Costly>> = BinaryHeap::with_capacity(n + 1);
    if n == 0 {
        return Ok(Vec::new());
    }
    rows::each(path, batch, span, false, &mut |r| {
        let (window, _) = window_used(prices, r.window);
        let day = r.created_at.map(day::of_unix);
        let own = r.model.and_then(|m| prices.lookup(m, &window, day));
        let (Some(own), Some(b)) = (own, billed(r.tokens)) else {
            return Ok(());
        };
        let cost = price(&b, own.entry);
        // Most rows are cheaper than the n-th dearest: they cost no allocation.
        if heap.len() == n && heap.peek().is_some_and(|Reverse(min)| cost < min.cost) {
            return Ok(());
        }
        heap.push(Reverse(Costly {
            cost,
            batch_id: r.batch_id.to_owned(),
            custom_id: r.custom_id.to_owned(),
            model: r.model.map(str::to_owned),
            window,
            tokens: [r.tokens[0].unwrap_or(0), r.tokens[2].unwrap_or(0)],
        }));
        if heap.len() > n {
            heap.pop();
        }
        Ok(())
    })?;
    let mut top: Vec<Costly> = heap.into_iter().map(|Reverse(c)| c).collect();
    top.sort_by(|a, b| b.cost.cmp(&a.cost).then_with(|| a.cmp(b)));
    Ok(top)
}
