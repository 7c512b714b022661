//! The pace against a server that limits requests in flight: the simulator answers 429 (with
//! `Retry-After`) beyond K, and the client runs at `-j 64`, then at `-j K` for comparison.
//! Targets: it converges near K, every id is fetched, at most 1.2 requests per id, and wall
//! time at most 1.5 × the run at `-j K`. The manifest holds only the ids that have a result,
//! so "every id fetched" is exit 0.

use std::path::Path;

use sail_export::sim::{Dataset, ItemKind, StatsSnapshot};
use serde::{Deserialize, Serialize};

use super::{print_row, spawn_runner, Case, Measured};

/// The simulator's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Limit {
    /// Requests in flight it serves at most.
    pub(crate) k: u32,
    /// Its `Retry-After` on a 429, in seconds.
    pub(crate) retry_after_s: u32,
}

impl Limit {
    pub(crate) fn label(&self) -> String {
        format!(" K={} RA={}s", self.k, self.retry_after_s)
    }
}

/// What a run against a limit showed: the client's summary and the simulator's counts.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct Seen {
    pub(crate) exit: i32,
    pub(crate) rate_limited: u64,
    pub(crate) concurrency_min: u64,
    pub(crate) concurrency_final: u64,
    sim_requests: u64,
    sim_limited: u64,
    sim_max_in_flight: u64,
    /// Answer time summed over the requests past the limiter, over wall time: the mean
    /// number of requests the server was working on (Little's law).
    sim_mean_in_flight: f64,
}

impl Seen {
    pub(crate) fn new(
        summary: &serde_json::Value,
        s: &StatsSnapshot,
        exit: i32,
        wall: f64,
    ) -> Seen {
        let field = |k: &str| summary[k].as_u64().unwrap_or(0);
        Seen {
            exit,
            rate_limited: field("rate_limited"),
            concurrency_min: field("concurrency_min"),
            concurrency_final: field("concurrency_final"),
            sim_requests: s.requests,
            sim_limited: s.limited,
            sim_max_in_flight: s.max_in_flight,
            sim_mean_in_flight: s.answer_us as f64 / 1e6 / wall.max(1e-9),
        }
    }
}

/// The manifest of a case, one id a line: every item, or for a case of the pace (a limit,
/// random 429s), those with a result (not unfinished, not expired).
pub(crate) fn ids(case: &Case, data: &Dataset) -> Vec<String> {
    let paced = case.limit.is_some() || case.noise.is_some();
    let keep = |i: u64| {
        let kind = data.kind(0, i);
        !paced || !(kind.is_unfinished() || kind == ItemKind::Expired)
    };
    (0..case.n)
        .filter(|&i| keep(i))
        .map(|i| Dataset::custom_id(i) + "\n")
        .collect()
}

/// The cases: for each limit, `-j 64` and `-j K`.
fn cases(quick: bool) -> Vec<(Case, Case)> {
    let (n, latency_ms, limits): (u64, u64, &[Limit]) = if quick {
        (
            300,
            2,
            &[Limit {
                k: 8,
                retry_after_s: 0,
            }],
        )
    } else {
        let k = 8;
        (
            3000,
            20,
            &[
                Limit {
                    k,
                    retry_after_s: 0,
                },
                Limit {
                    k,
                    retry_after_s: 1,
                },
            ],
        )
    };
    let case = |limit: Limit, concurrency| Case {
        n,
        latency_ms,
        concurrency,
        sink: "sqlite".into(),
        raw: false,
        limit: Some(limit),
        noise: None,
        transport: super::Transport::Http,
    };
    limits
        .iter()
        .map(|&l| (case(l, 64), case(l, l.k)))
        .collect()
}

/// Runs the limiter cases that `filter` selects and says how each pair met the targets.
pub(crate) fn run(quick: bool, filter: &str, client: &Path) -> anyhow::Result<()> {
    let pairs: Vec<_> = cases(quick)
        .into_iter()
        .filter(|(a, b)| filter == super::PACE || a.selected(filter) || b.selected(filter))
        .collect();
    if pairs.is_empty() {
        return Ok(());
    }
    println!(
        "\nlimiter: the simulator answers 429 with Retry-After RA beyond K requests in flight; \
         ids with a result only"
    );
    for (wide, exact) in pairs {
        let w = spawn_runner(&wide, client)?;
        print_row(&wide, &w);
        let e = spawn_runner(&exact, client)?;
        print_row(&exact, &e);
        verdict(&wide, &w, &e, quick);
    }
    Ok(())
}

/// The targets for one limit: `w` ran at `-j 64`, `e` at `-j K` (judged unless `quick`:
/// with a few hundred ids, process start and the first burst of 429s dominate).
fn verdict(case: &Case, w: &Measured, e: &Measured, quick: bool) {
    let limit = case.limit.expect("a limiter case");
    let k = f64::from(limit.k);
    let p = &w.pace;
    let mark = |ok: bool| match (quick, ok) {
        (true, _) => "not judged in --quick mode",
        (false, true) => "met",
        (false, false) => "MISSED",
    };
    println!(
        "  K={} RA={}s, -j {}: {} × 429, in flight lowest {} / final {}; at the server: mean {:.1}, max {}",
        limit.k,
        limit.retry_after_s,
        case.concurrency,
        p.rate_limited,
        p.concurrency_min,
        p.concurrency_final,
        p.sim_mean_in_flight,
        p.sim_max_in_flight
    );
    let near = p.sim_mean_in_flight / k;
    println!(
        "    converges near K: mean in flight {:.2} × K (-j K: {:.2} × K) → {}",
        near,
        e.pace.sim_mean_in_flight / k,
        mark(near >= 0.8)
    );
    println!(
        "    every id fetched: exit {}, {} rows for {} ids → {}",
        p.exit,
        w.rows,
        w.ids,
        mark(p.exit == 0 && w.rows == w.ids)
    );
    // The simulator's first request is the batch status read.
    let per_id = p.sim_requests.saturating_sub(1) as f64 / w.ids.max(1) as f64;
    println!(
        "    requests per id ≤ 1.2: {per_id:.3} ({} limited by the server) → {}",
        p.sim_limited,
        mark(per_id <= 1.2)
    );
    let ratio = w.wall_s / e.wall_s;
    println!(
        "    wall ≤ 1.5 × the run at -j {}: {:.2} s / {:.2} s = {ratio:.2} × → {}",
        limit.k,
        w.wall_s,
        e.wall_s,
        mark(ratio <= 1.5)
    );
}
