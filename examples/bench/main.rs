//! End-to-end benchmark: the real `sail-export fetch` binary against the in-process simulator,
//! over HTTP and HTTPS (HTTP/1.1 and HTTP/2), measured as a separate process (wall time, CPU
//! user+sys and peak RSS from `getrusage(RUSAGE_CHILDREN)`) beside its floor: a bare client
//! with the tool's own HTTP client and settings over the same URLs (`floor`). The ratio of
//! the two CPU times is the figure of merit. Then the pace against a simulator that limits
//! requests in flight (`limiter`), against random 429s, and `sail-export demo` (`noise`).
//!
//! ```text
//! cargo run --release --example bench              # every case, then the targets
//! cargo run --release --example bench -- --quick   # small N, seconds (what CI runs)
//! cargo run --release --example bench -- --filter pace  # the pace's cases and the demo only
//! cargo run --release --example bench -- --filter "http   n=100000 lat=20ms c=256$" --repeat 3
//! ```
//!
//! Each case runs in a fresh runner process (this program re-executed with `--case`) that
//! starts the simulator, spawns the client, then the floor (this program with `--floor`),
//! one after the other, so the rusage of its children is theirs alone. The client binary is
//! built first with the same profile (`--client PATH` skips that). Results/s and wall are end
//! to end for both: process start to exit, the tool's final commit included. `--repeat R`
//! runs each case R times, one line each.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use client::{build_client, usage, Who};
use sail_export::sim::{Dataset, Faults, Sim, SimConfig, SimHandle, DEMO_KEY};
use serde::{Deserialize, Serialize};
use spawn::{Job, Spawner};

#[path = "../shared/client.rs"]
mod client;
mod floor;
mod limiter;
mod noise;
#[path = "../shared/spawn.rs"]
mod spawn;
mod work;

/// The `--filter` that selects the pace's cases (limit, random 429s) and the demo alone.
const PACE: &str = "pace";

/// How the client reaches the simulator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
enum Transport {
    /// Plain HTTP/1.1 (loopback).
    #[default]
    Http,
    /// HTTPS forced to HTTP/1.1 (`--http1-only`).
    H1,
    /// HTTPS with HTTP/2 offered by ALPN (the client's default).
    H2,
}

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
    /// Random 429s the simulator answers (a case of the pace, without a floor).
    #[serde(default)]
    noise: Option<noise::Noise>,
    #[serde(default)]
    transport: Transport,
}

impl Case {
    fn label(&self) -> String {
        let raw = if self.raw { " raw" } else { "" };
        let limit = self.limit.map(|l| l.label()).unwrap_or_default()
            + &self.noise.map(|n| n.label()).unwrap_or_default();
        let transport = match self.transport {
            Transport::Http => "http ",
            Transport::H1 => "tls-h1",
            Transport::H2 => "tls-h2",
        };
        format!(
            "{:<7} {transport:<6} n={:<6} lat={:>2}ms c={:<3}{raw}{limit}",
            self.sink, self.n, self.latency_ms, self.concurrency
        )
    }

    /// Whether `--filter` picks this case: the label contains it, or with a trailing `$`,
    /// ends with it.
    fn selected(&self, filter: &str) -> bool {
        match filter.strip_suffix('$') {
            Some(end) => self.label().ends_with(end),
            None => self.label().contains(filter),
        }
    }

    /// The same case as measured at another size (for the RSS growth target).
    fn at(&self, n: u64) -> Case {
        Case { n, ..self.clone() }
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
    /// The floor's wall, CPU (user + sys) and peak RSS (its own), and the answers it read.
    floor_wall_s: f64,
    floor_cpu_s: f64,
    floor_rss_kb: i64,
    floor_answered: u64,
    /// The spawner's own peak RSS when it started the client: the least a peak can read.
    spawner_rss_kb: i64,
    /// CPU of parsing the served bodies and of storing their rows, one thread, beside the
    /// floor (`work.rs`).
    parse_cpu_s: f64,
    store_cpu_s: f64,
}

fn main() -> anyhow::Result<()> {
    client::linux_only()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    if args.first().map(String::as_str) == Some(spawn::FLAG) {
        return spawn::serve();
    }
    if let Some(spec) = flag("--floor") {
        let spec: floor::Spec = serde_json::from_str(spec)?;
        let report = floor::run(&spec)?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    if let Some(spec) = flag("--case") {
        let case: Case = serde_json::from_str(spec)?;
        let client = PathBuf::from(flag("--client").context("--case needs --client")?);
        let m = runtime()?.block_on(run_case(&case, &client))?;
        println!("{}", serde_json::to_string(&m)?);
        return Ok(());
    }
    let quick = args.iter().any(|a| a == "--quick");
    let filter = flag("--filter").cloned().unwrap_or_default();
    let repeat: usize = flag("--repeat").map_or(Ok(1), |r| r.parse())?;
    let client = match flag("--client") {
        Some(p) => PathBuf::from(p),
        None => build_client()?,
    };
    print_machine(&client, quick);
    let mut results = Vec::new();
    print_header();
    for case in cases(quick).into_iter().filter(|c| c.selected(&filter)) {
        for _ in 0..repeat {
            let m = spawn_runner(&case, &client)?;
            print_row(&case, &m);
            results.push((case.clone(), m));
        }
    }
    limiter::run(quick, &filter, &client)?;
    noise::run(quick, &filter, &client)?;
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

/// The cases, all at one concurrency: both sinks without raw_json, SQLite with raw_json
/// kept (what people run by default), SQLite over HTTPS with HTTP/1.1 and HTTP/2, and
/// Parquet over HTTP/2 (the way the API is reached); each at both sizes (the RSS growth
/// target) and both latencies.
fn cases(quick: bool) -> Vec<Case> {
    let (ns, lats, concurrency): (&[u64], &[u64], u32) = if quick {
        (&[300, 1000], &[0, 2], 32)
    } else {
        (&[10_000, 100_000], &[0, 20], 256)
    };
    let kinds = [
        ("sqlite", false, Transport::Http),
        ("parquet", false, Transport::Http),
        ("sqlite", true, Transport::Http),
        ("sqlite", false, Transport::H1),
        ("sqlite", false, Transport::H2),
        ("sqlite", true, Transport::H2),
        ("parquet", false, Transport::H2),
    ];
    let mut out = Vec::new();
    for (sink, raw, transport) in kinds {
        for &latency_ms in lats {
            for &n in ns {
                out.push(Case {
                    n,
                    latency_ms,
                    concurrency,
                    sink: sink.to_owned(),
                    raw,
                    limit: None,
                    noise: None,
                    transport,
                });
            }
        }
    }
    out
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
        "client: sail-export fetch -m ids.txt --no-raw (unless 'raw') -j C [--ca-cert ca.pem] \
         [--http1-only]; floor: the same client's GETs, bodies dropped; simulator: no faults, \
         no limit, jitter ±10 % of latency{}",
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

/// The runner: simulator in this process, the client child, then the floor child, and the
/// rusage of each.
async fn run_case(case: &Case, client: &Path) -> anyhow::Result<Measured> {
    // Started while this process is small: each child's peak RSS is then its own.
    let client_spawner = Spawner::start()?;
    let floor_spawner = Spawner::start()?;
    let latency = Duration::from_millis(case.latency_ms);
    let sim = Sim::start(SimConfig {
        latency,
        jitter: latency / 10,
        max_concurrent: case.limit.map(|l| l.k as usize),
        faults: Faults {
            rate_429: case.noise.map_or(0.0, |n| n.pct_429 / 100.0),
            retry_after_s: case
                .limit
                .map(|l| l.retry_after_s)
                .or(case.noise.map(|n| n.retry_after_s))
                .unwrap_or(0),
            ..Faults::default()
        },
        tls: case.transport != Transport::Http,
        ..SimConfig::new(case.n)
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let manifest = dir.path().join("ids.txt");
    let ids = limiter::ids(case, sim.dataset());
    let n_ids = ids.len() as u64;
    std::fs::write(&manifest, ids.concat())?;
    drop(ids);
    let out_path = dir.path().join(format!("out.{}", case.sink));
    let path = |p: &Path| p.to_string_lossy().into_owned();
    // SAIL_BENCH_WRAP="perf record -g -o perf.data --" runs the client under a profiler.
    let mut job = Job::wrapped("SAIL_BENCH_WRAP", &path(client)).args([
        "fetch",
        sim.batch_id(),
        "-m",
        &path(&manifest),
        "-o",
        &path(&out_path),
        "--base-url",
        &sim.base_url(),
        "-j",
        &case.concurrency.to_string(),
        "--json",
    ]);
    job.env.push(("SAIL_API_KEY".into(), DEMO_KEY.into()));
    job.env_remove.push("SAIL_BASE_URL".into());
    if let Some(pem) = sim.ca_pem() {
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, pem)?;
        job = job.args(["--ca-cert", &path(&ca)]);
    }
    if case.transport == Transport::H1 {
        job = job.args(["--http1-only"]);
    }
    if !case.raw {
        job = job.args(["--no-raw"]);
    }
    let self_before = usage(Who::Process)?.cpu_s;
    let ran = tokio::task::spawn_blocking(move || client_spawner.run(&job)).await??;
    let sim_cpu_s = usage(Who::Process)?.cpu_s - self_before;
    let answer_ms = sim.stats().mean_answer_s() * 1e3;
    let stats = sim.stats();
    let stderr = &ran.stderr;
    let code = ran.code.unwrap_or(-1);
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
    let summary: serde_json::Value = serde_json::from_str(&ran.stdout)
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
    let wall_s = ran.wall_s;
    let mut m = Measured {
        unavailable: None,
        wall_s,
        client_cpu_s: ran.cpu_s,
        client_sys_s: ran.sys_s,
        client_rss_kb: ran.max_rss_kb,
        spawner_rss_kb: ran.spawner_rss_kb,
        out_mb: std::fs::metadata(&out_path).map_or(0.0, |m| m.len() as f64 / 1e6),
        sim_cpu_s,
        answer_ms,
        rows,
        requests: field("requests"),
        retries: field("retries"),
        ids: n_ids,
        pace: limiter::Seen::new(&summary, &stats, code, wall_s),
        ..Measured::default()
    };
    if case.limit.is_none() && case.noise.is_none() {
        run_floor(case, &sim, dir.path(), floor_spawner, &mut m).await?;
        let (data, n, sink, raw) = (sim.dataset().clone(), case.n, case.sink.clone(), case.raw);
        let dir = dir.path().to_owned();
        let w = tokio::task::spawn_blocking(move || work::measure(&data, n, &sink, raw, &dir))
            .await??;
        m.parse_cpu_s = w.parse_s;
        m.store_cpu_s = w.store_s;
    }
    sim.shutdown().await;
    Ok(m)
}

/// Runs the floor against the same simulator, over the ids the client requested (those the
/// batch reports finished), and adds its figures to `m`.
async fn run_floor(
    case: &Case,
    sim: &SimHandle,
    dir: &Path,
    spawner: Spawner,
    m: &mut Measured,
) -> anyhow::Result<()> {
    let data = sim.dataset();
    let ids = dir.join("floor_ids.txt");
    let finished: Vec<String> = (0..case.n)
        .filter(|&i| !data.kind(0, i).is_unfinished())
        .map(|i| Dataset::custom_id(i) + "\n")
        .collect();
    std::fs::write(&ids, finished.concat())?;
    let spec = floor::Spec {
        base_url: sim.base_url(),
        batch_id: sim.batch_id().to_owned(),
        ids,
        concurrency: case.concurrency as usize,
        ca_pem: sim.ca_pem().map(str::to_owned),
        http1_only: case.transport == Transport::H1,
    };
    // SAIL_BENCH_FLOOR_WRAP="heaptrack -o floor" runs the floor under a tool, as
    // SAIL_BENCH_WRAP does the client.
    let me = std::env::current_exe()?.to_string_lossy().into_owned();
    let job = Job::wrapped("SAIL_BENCH_FLOOR_WRAP", &me)
        .args(["--floor", &serde_json::to_string(&spec)?]);
    let ran = tokio::task::spawn_blocking(move || spawner.run(&job)).await??;
    m.floor_wall_s = ran.wall_s;
    m.floor_cpu_s = ran.cpu_s;
    m.floor_rss_kb = ran.max_rss_kb;
    let report: floor::Report = match ran.stdout.lines().last().map(serde_json::from_str) {
        Some(Ok(r)) if ran.code == Some(0) => r,
        _ => bail!("the floor failed: {}{}", ran.stdout, ran.stderr),
    };
    m.floor_answered = report.answered;
    Ok(())
}

fn print_header() {
    println!(
        "{:<44} {:>7} {:>7} {:>6} {:>9} {:>8} {:>8} {:>6} {:>8} {:>8} {:>6} {:>9} {:>6} {:>7} {:>8} {:>8} {:>7}",
        "case",
        "rows",
        "wall s",
        "×ideal",
        "results/s",
        "cpu µs/r",
        "floor µs",
        "×floor",
        "parse µs",
        "store µs",
        "bound×",
        "floor r/s",
        "rate×",
        "rss MB",
        "floor MB",
        "sim µs/r",
        "srv ms",
    );
}

fn print_row(case: &Case, m: &Measured) {
    if let Some(why) = &m.unavailable {
        println!("{:<44} unavailable: {why}", case.label());
        return;
    }
    let ideal = case.ideal_s();
    let ratio = if ideal > 0.0 {
        format!("{:.3}", m.wall_s / ideal)
    } else {
        "-".into()
    };
    let per = |s: f64| s * 1e6 / m.rows.max(1) as f64;
    let (floor_us, times, floor_rate, rate) = if m.floor_wall_s > 0.0 {
        let floor_rate = m.rows as f64 / m.floor_wall_s;
        (
            format!("{:.1}", per(m.floor_cpu_s)),
            format!("{:.3}", m.client_cpu_s / m.floor_cpu_s),
            format!("{floor_rate:.0}"),
            format!("{:.2}", m.floor_wall_s / m.wall_s),
        )
    } else {
        ("-".into(), "-".into(), "-".into(), "-".into())
    };
    let floor_mb = if m.floor_rss_kb > 0 {
        format!("{:.1}", m.floor_rss_kb as f64 / 1024.0)
    } else {
        "-".into()
    };
    let (parse_us, store_us, bound) = if m.floor_cpu_s > 0.0 {
        (
            format!("{:.1}", per(m.parse_cpu_s)),
            format!("{:.1}", per(m.store_cpu_s)),
            format!("{:.2}", bound(m)),
        )
    } else {
        ("-".into(), "-".into(), "-".into())
    };
    println!(
        "{:<44} {:>7} {:>7.2} {:>6} {:>9.0} {:>8.1} {:>8} {:>6} {:>8} {:>8} {:>6} {:>9} {:>6} {:>7.1} {:>8} {:>8.1} {:>7.2}",
        case.label(),
        m.rows,
        m.wall_s,
        ratio,
        m.rows as f64 / m.wall_s,
        per(m.client_cpu_s),
        floor_us,
        times,
        parse_us,
        store_us,
        bound,
        floor_rate,
        rate,
        m.client_rss_kb as f64 / 1024.0,
        floor_mb,
        per(m.sim_cpu_s),
        m.answer_ms,
    );
    if m.rows != m.ids {
        println!("  !! {} rows for {} ids", m.rows, m.ids);
    }
    // A peak at the spawner's own could be the spawner's (see `shared/spawn.rs`).
    if m.client_rss_kb <= m.spawner_rss_kb {
        println!(
            "  !! the client's peak RSS is no more than its spawner's ({} KiB)",
            m.spawner_rss_kb
        );
    }
    // The client's requests include the one status read.
    if m.floor_wall_s > 0.0 && m.floor_answered + 1 != m.requests {
        println!(
            "  !! the floor read {} answers, the client sent {} requests",
            m.floor_answered, m.requests
        );
    }
}

/// What the tool's CPU over the floor's comes to before the pipeline's own work, with this
/// stack: (floor + parsing the bodies + storing the rows) ÷ floor. Measured apart, so an
/// estimate: at 10,000 ids the sink's fixed costs and the noise can put it above the tool.
fn bound(m: &Measured) -> f64 {
    (m.floor_cpu_s + m.parse_cpu_s + m.store_cpu_s) / m.floor_cpu_s
}

/// The medians of a case's repeated runs: ratio to the floor, its lower bound, rate to the
/// floor's, RSS.
struct Judged {
    times: f64,
    bound: f64,
    rate: f64,
    rss_kb: f64,
}

fn judged(results: &[(Case, Measured)], case: &Case) -> Option<Judged> {
    let runs: Vec<&Measured> = results
        .iter()
        .filter(|(c, m)| {
            c.label() == case.label() && m.unavailable.is_none() && m.floor_cpu_s > 0.0
        })
        .map(|(_, m)| m)
        .collect();
    let median = |f: &dyn Fn(&Measured) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(|m| f(m)).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    Some(Judged {
        times: median(&|m| m.client_cpu_s / m.floor_cpu_s)?,
        bound: median(&bound)?,
        rate: median(&|m| m.floor_wall_s / m.wall_s)?,
        rss_kb: median(&|m| m.client_rss_kb as f64)?,
    })
}

/// The issue's targets for every case that ran, met or missed (medians over `--repeat`).
fn print_targets(results: &[(Case, Measured)]) {
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let mut seen = Vec::new();
    println!("\ntargets (medians of the runs of each case):");
    for (case, _) in results {
        if seen.contains(&case.label()) {
            continue;
        }
        seen.push(case.label());
        let Some(j) = judged(results, case) else {
            continue;
        };
        let target = if case.raw { 1.4 } else { 1.25 };
        let mut line = format!(
            "  {:<44} CPU {:.2} × floor (≤ {target}) {}",
            case.label(),
            j.times,
            verdict(j.times <= target)
        );
        if j.times > target && j.bound > target {
            line += &format!(" (floor + parse + store: {:.2} ×)", j.bound);
        }
        if case.latency_ms == 0 {
            line += &format!(
                "; rate {:.2} × floor's (≥ 0.5) {}",
                j.rate,
                verdict(j.rate >= 0.5)
            );
        }
        let mb = j.rss_kb / 1024.0;
        line += &format!("; RSS {mb:.1} MB (≤ 40) {}", verdict(mb <= 40.0));
        if case.n == 100_000 {
            if let Some(small) = judged(results, &case.at(10_000)) {
                let growth = j.rss_kb / small.rss_kb - 1.0;
                line += &format!(
                    "; RSS vs 10,000 ids {:+.1} % (≤ 10 %) {}",
                    growth * 100.0,
                    verdict(growth <= 0.10)
                );
            }
        }
        println!("{line}");
    }
    let big = results.iter().find(|(c, m)| {
        c.n == 100_000
            && c.latency_ms == 20
            && c.sink == "sqlite"
            && !c.raw
            && c.transport == Transport::Http
            && m.unavailable.is_none()
    });
    if let Some((case, m)) = big {
        let ratio = m.wall_s / case.ideal_s();
        let served = case.n as f64 * m.answer_ms / 1e3 / f64::from(case.concurrency);
        println!(
            "  wall ≤ 1.10 × N × latency / c ({}): {ratio:.3} × ({:.3} × against the simulator's \
             measured {:.2} ms answers) → {}",
            case.label(),
            m.wall_s / served,
            m.answer_ms,
            verdict(ratio <= 1.10)
        );
    }
}
