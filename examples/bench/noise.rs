//! The pace against refusals that are noise, not a limit: the simulator answers a share of
//! requests at random with 429 and `Retry-After`, with no limit on requests in flight, and
//! the same run without them for comparison (target: wall at most 1.3 × the fault-free
//! run); then `sail-export demo` as a newcomer runs it, with its own mix of faults (target:
//! at most 6 s).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use super::{print_row, spawn_runner, Case, Transport};

/// Random 429s injected by the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Noise {
    /// Share of requests answered 429, in percent.
    pub(crate) pct_429: f64,
    /// Their `Retry-After`, in seconds.
    pub(crate) retry_after_s: u32,
}

impl Noise {
    pub(crate) fn label(&self) -> String {
        format!(" 429={}% RA={}s", self.pct_429, self.retry_after_s)
    }
}

/// The pair: random 429s, then none; same ids, latency and `-j`.
fn cases(quick: bool) -> (Case, Case) {
    let (n, latency_ms, concurrency) = if quick {
        (1000, 2, 32)
    } else {
        (10_000, 20, 64)
    };
    let case = |pct_429| Case {
        n,
        latency_ms,
        concurrency,
        sink: "sqlite".into(),
        raw: false,
        limit: None,
        noise: Some(Noise {
            pct_429,
            retry_after_s: 1,
        }),
        transport: Transport::Http,
    };
    (case(1.5), case(0.0))
}

/// Runs the pair and the demo if `filter` selects them, and says how they met the targets.
pub(crate) fn run(quick: bool, filter: &str, client: &Path) -> anyhow::Result<()> {
    let (noisy, clean) = cases(quick);
    let mark = |ok: bool| match (quick, ok) {
        (true, _) => "not judged in --quick mode",
        (false, true) => "met",
        (false, false) => "MISSED",
    };
    let all = filter == super::PACE;
    if all || noisy.selected(filter) || clean.selected(filter) {
        println!(
            "\nsporadic refusals: the simulator answers a share of requests at random with 429 \
             and Retry-After RA, no limit; ids with a result only"
        );
        let n = spawn_runner(&noisy, client)?;
        print_row(&noisy, &n);
        let c = spawn_runner(&clean, client)?;
        print_row(&clean, &c);
        let p = &n.pace;
        println!(
            "  {}: {} × 429, in flight lowest {} / final {} of {}; {} retries; exit {}, {} rows \
             for {} ids",
            noisy.noise.map(|x| x.label()).unwrap_or_default().trim(),
            p.rate_limited,
            p.concurrency_min,
            p.concurrency_final,
            noisy.concurrency,
            n.retries,
            p.exit,
            n.rows,
            n.ids
        );
        let ratio = n.wall_s / c.wall_s;
        println!(
            "    wall ≤ 1.3 × the run without faults: {:.2} s / {:.2} s = {ratio:.2} × → {}",
            n.wall_s,
            c.wall_s,
            mark(ratio <= 1.3 && p.exit == 0 && n.rows == n.ids)
        );
        // An id refused as the last ones are sent still waits its Retry-After after them.
        let ra = noisy.noise.map_or(0, |x| x.retry_after_s);
        println!(
            "    what the last refusals cost: the run without faults + RA = {:.2} × (ids \
             refused in the last second wait out their RA after the rest is done; the load \
             moves both runs)",
            (c.wall_s + f64::from(ra)) / c.wall_s
        );
    }
    if all || "demo".contains(filter) {
        demo(client, &mark)?;
    }
    Ok(())
}

/// `sail-export demo` in a temporary folder, timed from start to exit.
fn demo(client: &Path, mark: &dyn Fn(bool) -> &'static str) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let start = Instant::now();
    let out = Command::new(client)
        .args(["demo", "--out"])
        .arg(dir.path().join("demo.sqlite"))
        .env_remove("SAIL_BASE_URL")
        .output()
        .context("running sail-export demo")?;
    let wall = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("sail-export demo exited {}: {stderr}", out.status);
    }
    println!("\nsail-export demo (3,000 requests, its own faults, -j 32):");
    for line in stderr
        .lines()
        .filter(|l| l.contains(" ids: ") || l.contains("faults:"))
    {
        println!("  {line}");
    }
    println!("  wall ≤ 6 s: {wall:.2} s → {}", mark(wall <= 6.0));
    Ok(())
}
