//! End-to-end benchmark: the real `sail-export fetch` binary against the in-process simulator,
//! measured as a separate process (wall time, CPU user+sys and peak RSS from
//! `getrusage(RUSAGE_CHILDREN)`), plus the simulator alone with a client that only reads bytes,
//! and the pace against a simulator that limits requests in flight (`limiter`).
//!
//! ```text
//! cargo run --release --example bench              # every case, then the targets
//! cargo run --release --example bench -- --quick   # small N, seconds (what CI runs)
//! cargo run --release --example bench -- --filter "n=100000 lat=20ms c=256"
//! ```
//!
//! Each case runs in a fresh runner process (this program re-executed with `--case`) that
//! starts the simulator and spawns exactly one client, so the rusage of its children is that
//! client's alone. The client binary is built first with the same profile (`--client PATH`
//! skips that). Results/s and wall are end to end: process start to exit, final commit
//! included.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::StreamExt;
use nix::sys::resource::{getrusage, Usage, UsageWho};
use sail_export::sim::{Dataset, Faults, Sim, SimConfig, DEMO_KEY};
use serde::{Deserialize, Serialize};

mod limiter;

/// One end-to-end case.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Case {
    n: u64,
    latency_ms: u64,
    concurrency: u32,
    sink: String,
    raw: bool,
    /// The simulator's limit on requests in flight (429 beyond), and its `Retry-After`.
    #[serde(default)]
    limit: Option<limiter::Limit>,
}

impl Case {
    fn label(&self) -> String {
        let raw = if self.raw { " raw" } else { "" };
        let limit = self.limit.map(|l| l.label()).unwrap_or_default();
        format!(
            "{:<7} n={:<6} lat={:>2}ms c={:<3}{raw}{limit}",
            self.sink, self.n, self.latency_ms, self.concurrency
        )
    }

    /// `N × latency / concurrency` (the concurrency the server allows, if lower).
    fn ideal_s(&self) -> f64 {
        let c = self
            .limit
            .map_or(self.concurrency, |l| l.k.min(self.concurrency));
        self.n as f64 * self.latency_ms as f64 / 1000.0 / f64::from(c)
    }
}

/// What a runner measured.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Measured {
    unavailable: Option<String>,
    wall_s: f64,
    client_cpu_s: f64,
    client_sys_s: f64,
    client_rss_kb: i64,
    out_mb: f64,
    sim_cpu_s: f64,
    answer_ms: f64,
    rows: u64,
    requests: u64,
    retries: u64,
    /// Ids in the manifest.
    ids: u64,
    pace: limiter::Seen,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    if let Some(spec) = flag("--case") {
        let case: Case = serde_json::from_str(spec)?;
        let client = PathBuf::from(flag("--client").context("--case needs --client")?);
        let m = runtime()?.block_on(run_case(&case, &client))?;
        println!("{}", serde_json::to_string(&m)?);
        return Ok(());
    }
    let quick = args.iter().any(|a| a == "--quick");
    let filter = flag("--filter").cloned().unwrap_or_default();
    let client = match flag("--client") {
        Some(p) => PathBuf::from(p),
        None => build_client()?,
    };
    print_machine(&client, quick);
    let mut results = Vec::new();
    println!(
        "{:<34} {:>7} {:>8} {:>8} {:>6} {:>9} {:>9} {:>8} {:>8} {:>9} {:>7} {:>7}",
        "case",
        "rows",
        "wall s",
        "ideal s",
        "ratio",
        "results/s",
        "cpu µs/r",
        "(sys)",
        "rss MB",
        "sim µs/r",
        "srv ms",
        "out MB"
    );
    for case in cases(quick)
        .into_iter()
        .filter(|c| c.label().contains(&filter))
    {
        let m = spawn_runner(&case, &client)?;
        print_row(&case, &m);
        results.push((case, m));
    }
    sim_alone(if quick { 2000 } else { 100_000 }, 64)?;
    limiter::run(quick, &filter, &client)?;
    if !quick {
        print_targets(&results);
    } else {
        println!("\ntargets: not evaluated in --quick mode (run without --quick)");
    }
    Ok(())
}

/// The simulator's runtime: `SAIL_BENCH_SIM_THREADS` workers (default: one per core).
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = std::env::var("SAIL_BENCH_SIM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        b.worker_threads(n);
    }
    Ok(b.enable_all().build()?)
}

/// The cases: N × latency × concurrency × sink, then serial runs (concurrency 1; at 20 ms
/// with N = 500, since 10,000 would take over 200 s).
fn cases(quick: bool) -> Vec<Case> {
    /// Sizes, latencies (ms), concurrencies, and (size, latency) of the serial runs.
    type Grid = (
        &'static [u64],
        &'static [u64],
        &'static [u32],
        &'static [(u64, u64)],
    );
    let (ns, lats, concs, serial): Grid = if quick {
        (&[300, 1000], &[0, 2], &[8, 32], &[(200, 0), (50, 2)])
    } else {
        (
            &[10_000, 100_000],
            &[0, 20],
            &[64, 256],
            &[(10_000, 0), (100_000, 0), (500, 20)],
        )
    };
    let mut out = Vec::new();
    for sink in ["sqlite", "parquet"] {
        for &n in ns {
            for &latency_ms in lats {
                for &concurrency in concs {
                    let sink = sink.to_owned();
                    out.push(Case {
                        n,
                        latency_ms,
                        concurrency,
                        sink,
                        raw: false,
                        limit: None,
                    });
                }
            }
        }
    }
    for &(n, latency_ms) in serial {
        out.push(Case {
            n,
            latency_ms,
            concurrency: 1,
            sink: "sqlite".into(),
            raw: false,
            limit: None,
        });
    }
    let big = *ns.last().expect("sizes");
    out.push(Case {
        n: big,
        latency_ms: 0,
        concurrency: 64,
        sink: "sqlite".into(),
        raw: true,
        limit: None,
    });
    out
}

/// Builds `sail-export` with this program's profile; returns its path.
fn build_client() -> anyhow::Result<PathBuf> {
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--bin", "sail-export"]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let status = cmd.status().context("running cargo build for the client")?;
    if !status.success() {
        bail!("cargo build --bin sail-export failed");
    }
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("no target dir")?;
    Ok(dir.join("sail-export"))
}

fn print_machine(client: &Path, quick: bool) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_owned())
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or("?".to_owned(), |kb| {
            format!("{:.1} GiB", kb / 1024.0 / 1024.0)
        });
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!(
        "machine: {cores} cores, {mem}, load average {} at start; client {} ({profile}); \
         sim in the runner process",
        load.join(" "),
        client.display()
    );
    println!(
        "client: sail-export fetch -m ids.txt --no-raw (unless 'raw') -j C; simulator: no faults, no limit, jitter ±10 % of latency{}",
        if quick { "; --quick sizes" } else { "" }
    );
}

/// Re-executes this program as the runner of one case.
fn spawn_runner(case: &Case, client: &Path) -> anyhow::Result<Measured> {
    let out = Command::new(std::env::current_exe()?)
        .args(["--case", &serde_json::to_string(case)?, "--client"])
        .arg(client)
        .output()
        .context("running a bench case")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.lines().last().map(serde_json::from_str::<Measured>) {
        Some(Ok(m)) if out.status.success() => Ok(m),
        _ => bail!(
            "case {} failed: {}{}",
            case.label(),
            stdout,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The runner: simulator in this process, one client child, rusage of that child.
async fn run_case(case: &Case, client: &Path) -> anyhow::Result<Measured> {
    let latency = Duration::from_millis(case.latency_ms);
    let sim = Sim::start(SimConfig {
        latency,
        jitter: latency / 10,
        max_concurrent: case.limit.map(|l| l.k as usize),
        faults: Faults {
            retry_after_s: case.limit.map_or(0, |l| l.retry_after_s),
            ..Faults::default()
        },
        ..SimConfig::new(case.n)
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let manifest = dir.path().join("ids.txt");
    let ids = limiter::ids(case, sim.dataset());
    let n_ids = ids.len() as u64;
    std::fs::write(&manifest, ids.concat())?;
    let out_path = dir.path().join(format!("out.{}", case.sink));
    // SAIL_BENCH_WRAP="perf record -g -o perf.data --" runs the client under a profiler.
    let wrap = std::env::var("SAIL_BENCH_WRAP").unwrap_or_default();
    let mut words = wrap.split_whitespace();
    let mut cmd = match words.next() {
        Some(tool) => {
            let mut c = Command::new(tool);
            c.args(words).arg(client);
            c
        }
        None => Command::new(client),
    };
    cmd.arg("fetch")
        .arg(sim.batch_id())
        .arg("-m")
        .arg(&manifest)
        .arg("-o")
        .arg(&out_path)
        .args([
            "--base-url",
            &sim.base_url(),
            "-j",
            &case.concurrency.to_string(),
            "--json",
        ])
        .env("SAIL_API_KEY", DEMO_KEY)
        .envs(
            // SAIL_BENCH_CLIENT_THREADS=N: the client's tokio worker threads, for experiments.
            std::env::var("SAIL_BENCH_CLIENT_THREADS")
                .ok()
                .map(|n| ("TOKIO_WORKER_THREADS", n)),
        )
        .env_remove("SAIL_BASE_URL");
    if !case.raw {
        cmd.arg("--no-raw");
    }
    let self_before = getrusage(UsageWho::RUSAGE_SELF)?;
    let started = Instant::now();
    let output = tokio::task::spawn_blocking(move || cmd.output()).await??;
    let wall_s = started.elapsed().as_secs_f64();
    let child = getrusage(UsageWho::RUSAGE_CHILDREN)?;
    let sim_cpu_s = cpu_s(&getrusage(UsageWho::RUSAGE_SELF)?) - cpu_s(&self_before);
    let answer_ms = sim.stats().mean_answer_s() * 1e3;
    let stats = sim.stats();
    sim.shutdown().await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output.status.code().unwrap_or(-1);
    if code == 2 && stderr.contains("arquet") {
        let why = stderr.lines().last().unwrap_or("").to_owned();
        return Ok(Measured {
            unavailable: Some(why),
            ..Measured::default()
        });
    }
    if !matches!(code, 0 | 3) {
        bail!("the client exited {code}: {stderr}");
    }
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("the client's --json summary: {stderr}"))?;
    let field = |k: &str| summary[k].as_u64().unwrap_or(0);
    let rows = if case.sink == "sqlite" {
        let conn = rusqlite::Connection::open(&out_path)?;
        let n: i64 = conn.query_row("SELECT COUNT(DISTINCT custom_id) FROM results", [], |r| {
            r.get(0)
        })?;
        n as u64
    } else {
        field("fetched") + field("pending") + field("not_found") + field("error")
    };
    Ok(Measured {
        unavailable: None,
        wall_s,
        client_cpu_s: cpu_s(&child),
        client_sys_s: secs(child.system_time()),
        client_rss_kb: child.max_rss(),
        out_mb: std::fs::metadata(&out_path).map_or(0.0, |m| m.len() as f64 / 1e6),
        sim_cpu_s,
        answer_ms,
        rows,
        requests: field("requests"),
        retries: field("retries"),
        ids: n_ids,
        pace: limiter::Seen::new(&summary, &stats, code, wall_s),
    })
}

fn secs(tv: nix::sys::time::TimeVal) -> f64 {
    tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6
}

fn cpu_s(u: &Usage) -> f64 {
    secs(u.user_time()) + secs(u.system_time())
}

fn print_row(case: &Case, m: &Measured) {
    if let Some(why) = &m.unavailable {
        println!("{:<34} unavailable: {why}", case.label());
        return;
    }
    let ideal = case.ideal_s();
    let ratio = if ideal > 0.0 {
        format!("{:.3}", m.wall_s / ideal)
    } else {
        "-".into()
    };
    let per = |s: f64| s * 1e6 / m.rows.max(1) as f64;
    println!(
        "{:<34} {:>7} {:>8.2} {:>8.2} {:>6} {:>9.0} {:>9.1} {:>8.1} {:>8.1} {:>9.1} {:>7.2} {:>7.0}",
        case.label(),
        m.rows,
        m.wall_s,
        ideal,
        ratio,
        m.rows as f64 / m.wall_s,
        per(m.client_cpu_s),
        per(m.client_sys_s),
        m.client_rss_kb as f64 / 1024.0,
        per(m.sim_cpu_s),
        m.answer_ms,
        m.out_mb,
    );
    if m.rows != m.ids {
        println!("  !! {} rows for {} ids", m.rows, m.ids);
    }
}

/// The simulator alone at 0 ms: a client in the same process that only reads the bytes.
fn sim_alone(n: u64, concurrency: usize) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    runtime()?.block_on(async {
        let sim = Sim::start(SimConfig::new(n)).await?;
        let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
        let base = format!("{}/batches/{}", sim.base_url(), sim.batch_id());
        let before = getrusage(UsageWho::RUSAGE_SELF)?;
        let started = Instant::now();
        let bytes: u64 = futures::stream::iter(0..n)
            .map(|i| {
                let req = http.get(format!("{base}/{}", Dataset::custom_id(i))).bearer_auth(DEMO_KEY);
                async move { req.send().await.ok()?.bytes().await.ok().map(|b| b.len() as u64) }
            })
            .buffer_unordered(concurrency)
            .fold(0, |acc, b| async move { acc + b.unwrap_or(0) })
            .await;
        let wall = started.elapsed().as_secs_f64();
        let cpu = cpu_s(&getrusage(UsageWho::RUSAGE_SELF)?) - cpu_s(&before);
        let served = sim.stats().ok + sim.stats().not_found;
        sim.shutdown().await;
        println!(
            "\nsimulator alone, 0 ms, c={concurrency}, {n} GETs: {:.0} requests/s, {:.1} MB/s of bodies, \
             {:.1} µs CPU per request (simulator + byte-reading client, one process); {served} answered",
            n as f64 / wall,
            bytes as f64 / wall / 1e6,
            cpu * 1e6 / n as f64
        );
        anyhow::Ok(())
    })
}

/// The issue's targets, met or missed.
fn print_targets(results: &[(Case, Measured)]) {
    let find = |n: u64| {
        results.iter().find(|(c, m)| {
            c.n == n
                && c.latency_ms == 20
                && c.concurrency == 256
                && c.sink == "sqlite"
                && !c.raw
                && m.unavailable.is_none()
        })
    };
    println!("\ntargets (sqlite, --no-raw, 20 ms, c=256):");
    let Some((case, big)) = find(100_000) else {
        println!("  the n=100000 lat=20ms c=256 case did not run (--filter?)");
        return;
    };
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let ratio = big.wall_s / case.ideal_s();
    println!(
        "  wall ≤ 1.10 × ideal at n=100000: {ratio:.3} × → {}",
        verdict(ratio <= 1.10)
    );
    let served = case.n as f64 * big.answer_ms / 1e3 / f64::from(case.concurrency);
    println!(
        "    (the simulator's answers took {:.2} ms on average, timer rounding included; \
         against N × that / c = {served:.2} s the ratio is {:.3} ×)",
        big.answer_ms,
        big.wall_s / served
    );
    let cpu_us = big.client_cpu_s * 1e6 / big.rows.max(1) as f64;
    println!(
        "  client CPU ≤ 30 µs per result: {cpu_us:.1} µs → {}",
        verdict(cpu_us <= 30.0)
    );
    let rss = big.client_rss_kb as f64 / 1024.0;
    println!(
        "  peak RSS ≤ 80 MB at n=100000: {rss:.1} MB → {}",
        verdict(rss <= 80.0)
    );
    match find(10_000) {
        Some((_, small)) => {
            let growth = big.client_rss_kb as f64 / small.client_rss_kb.max(1) as f64 - 1.0;
            println!(
                "  peak RSS at n=100000 within 10 % of n=10000 ({:.1} MB): {:+.1} % → {}",
                small.client_rss_kb as f64 / 1024.0,
                growth * 100.0,
                verdict(growth <= 0.10)
            );
        }
        None => println!("  the n=10000 lat=20ms c=256 case did not run"),
    }
}
