//! `sail-export demo`: the simulated Sail API on loopback, the real fetch pipeline, a cost
//! report.
//!
//! Nothing here takes a shortcut: the ids come from `GET /batches/{id}` over HTTP, every
//! result is fetched by the same client, retry policy and pipeline as `fetch`, and rows land
//! in a real SQLite file. Only the server is simulated.
//!
//! Exit code: the simulated batch has items still running and results past retention on
//! purpose, which a real `fetch` reports with exit 3. The demo exits 0 when the export holds
//! exactly what the simulator served (those pending and not_found rows included, no error
//! rows) and says so; otherwise it exits with the fetch's own code.
//!
//! `--serve` keeps the simulator up after the export, on a fixed loopback port, prints the
//! `export` lines and the commands to try, and lets the unfinished items complete over
//! `--finish-in` seconds so `fetch --wait` has something to wait for. A signal while
//! serving is the expected end, not an interruption: the exit code stays the export's.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::api::{Client, ClientConfig};
use crate::cli::DemoArgs;
use crate::error::{exit, UsageError};
use crate::fetch::{self, shutdown_signal, RunOptions};
use crate::sim::{Sim, SimConfig, SimHandle, StatsSnapshot, DEMO_KEY};
use crate::summary::Summary;

/// Runs `demo`; returns the exit code.
pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<i32> {
    let sim = start(&args).await?;
    make_room(&args.out)?;
    let outcome = export(&args, &sim).await;
    let served = sim.stats();
    let expected = Expected::of(&sim);
    let summary = outcome?;
    note!("{summary}");
    note!("{}", describe_faults(&served, summary.retries));
    let report = super::cost::Request::new(args.out.clone());
    if let Err(e) = super::cost::run_to(&report, &mut crate::out::Stdout) {
        eprintln!("warning: no cost report: {e:#}");
    }
    note!("demo: the export beside what the simulator billed (its usage API):");
    let recon = super::reconcile::Request::demo(&args.out, &sim.base_url(), DEMO_KEY);
    if let Err(e) = super::reconcile::run_to(&recon, &mut crate::out::Stdout).await {
        eprintln!("warning: no reconcile: {e:#}");
    }
    let code = exit_code(&summary, &expected);
    if summary.stopped.is_some() {
        sim.shutdown().await;
        return Ok(code);
    }
    let out = std::path::absolute(&args.out).unwrap_or_else(|_| args.out.clone());
    if args.serve {
        serve(sim, &args, &expected).await;
    } else {
        sim.shutdown().await;
        eprintln!("{}", next_steps(&out));
    }
    Ok(code)
}

/// The simulator: on any free port, or with `--serve` on `--port`, where a port in use is a
/// usage error (checked before the export, so no time is lost).
async fn start(args: &DemoArgs) -> anyhow::Result<SimHandle> {
    let mut cfg = SimConfig::demo(args.requests, args.seed);
    if !args.serve {
        return Sim::start(cfg).await;
    }
    cfg.port = args.port;
    Sim::start(cfg)
        .await
        .map_err(|e| match e.downcast_ref::<std::io::Error>() {
            Some(io) => UsageError::new(format!(
                "--port {}: cannot serve on 127.0.0.1:{}: {io}; pass --port N with a free \
                 port (0 picks one)",
                args.port, args.port
            ))
            .into(),
            None => e,
        })
}

/// `demo --serve` after the export: the served batches' unfinished items start completing,
/// the user is told how to reach the API, and it serves until SIGINT or SIGTERM.
async fn serve(sim: SimHandle, args: &DemoArgs, expected: &Expected) {
    // Listen before telling anyone where to send the signal.
    let stop = shutdown_signal();
    let span = Duration::from_secs(args.finish_in);
    sim.finish_within(span);
    eprintln!(
        "{}",
        serve_text(&sim.base_url(), sim.batch_id(), span, expected)
    );
    let _ = stop.await;
    eprintln!("demo: stopping the simulated API");
    sim.shutdown().await;
}

/// The `export` lines and the commands to try against the served API.
fn serve_text(base_url: &str, batch_id: &str, span: Duration, e: &Expected) -> String {
    format!(
        "\nThe simulated API stays up at {base_url} until Ctrl-C. In another shell:\n\n\
         \x20 export SAIL_BASE_URL={base_url}\n\
         \x20 export SAIL_API_KEY={DEMO_KEY}\n\
         \x20 sail-export status {batch_id}\n\
         \x20 sail-export list\n\
         \x20 sail-export fetch {batch_id} --wait --poll-interval 5\n\
         \x20 sail-export cost {batch_id}.sqlite\n\
         \x20 SAIL_EXPORT_PRICES_DIR=demo-prices sail-export prices update --from {}/pricing.md\n\n\
         The {} running and queued items of {batch_id} complete one by one within {}s; \
         `fetch --wait` picks them up as they do. Its {} results past retention stay \
         not_found, so that fetch ends with exit 3, as it would against the real API.",
        base_url.trim_end_matches("/v1"),
        e.pending,
        span.as_secs(),
        e.not_found,
    )
}

/// The output's absolute path and what to run next.
fn next_steps(out: &Path) -> String {
    let path = out.to_string_lossy();
    let quoted = shlex::try_quote(&path).unwrap_or(path.clone());
    format!(
        "\ndemo output: {}\nnext: sail-export cost {quoted}\n\
         \x20     sail-export demo --serve   (keeps the simulated API up to try `status`, \
         `list` and `fetch --wait`)",
        out.display()
    )
}

/// Starts from a fresh file: an earlier demo's output is replaced, anything else is kept
/// and the demo refuses to run over it.
fn make_room(out: &Path) -> anyhow::Result<()> {
    if !out.exists() {
        return Ok(());
    }
    if !is_demo_output(out) {
        return Err(UsageError::new(format!(
            "--out '{}' exists and is not a demo output; pass --out NEW.sqlite",
            out.display()
        ))
        .into());
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut p = out.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| {
                    format!("replacing the earlier demo output '{}'", out.display())
                })
            }
            _ => {}
        }
    }
    note!("replacing the earlier demo output '{}'", out.display());
    Ok(())
}

/// Whether this SQLite file logs runs and every one of them was a demo run, as its
/// recorded options say (read through [`RunOptions`], so older demos' outputs count too).
fn is_demo_output(path: &Path) -> bool {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let Ok(conn) = rusqlite::Connection::open_with_flags(path, flags) else {
        return false;
    };
    let Ok(mut stmt) = conn.prepare("SELECT options_json FROM runs") else {
        return false;
    };
    let Ok(options) = stmt.query_map([], |r| r.get::<_, String>(0)) else {
        return false;
    };
    let mut runs = 0;
    for json in options {
        match json.ok().as_deref().and_then(RunOptions::read) {
            Some(o) if o.demo => runs += 1,
            _ => return false,
        }
    }
    runs > 0
}

/// The real path: the batch's status over HTTP for the ids, then the fetch pipeline.
async fn export(args: &DemoArgs, sim: &SimHandle) -> anyhow::Result<Summary> {
    let base_url = sim.base_url();
    let mut cfg = ClientConfig::new(&base_url, DEMO_KEY);
    cfg.pool_size = args.jobs.concurrency;
    let client = Client::new(cfg).context("setting up the API client")?;
    let batch_id = sim.batch_id().to_owned();
    note!(
        "demo: a simulated Sail API at {base_url} (seed {}): batch {batch_id}, {} requests, \
         with rate limits, 5xx, dropped connections and slow answers",
        args.seed,
        args.requests
    );
    print_status(&client, &batch_id).await?;
    // From here on exactly what `sail-export fetch BATCH_ID -o OUT` does: one status read
    // (unfinished items become `pending` rows without a request), then the pipeline.
    let mut cfg = args.config(&batch_id);
    cfg.quiet = super::quiet();
    fetch::run(&client, cfg, shutdown_signal()).await
}

/// Prints a line of per-status counts from the batch's `request_status`.
async fn print_status(client: &Client, batch_id: &str) -> anyhow::Result<()> {
    let value = super::status::read_batch(client, batch_id).await?;
    let mut counts: Vec<(String, u64)> = value.by_status().into_iter().collect();
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    let line: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    note!("batch status: {}", line.join(", "));
    Ok(())
}

/// What the simulator planned for the main batch: rows a complete export must hold.
struct Expected {
    pending: u64,
    not_found: u64,
}

impl Expected {
    fn of(sim: &SimHandle) -> Expected {
        let d = sim.dataset();
        let kinds = (0..d.items()).map(|i| d.kind(0, i));
        let (mut pending, mut not_found) = (0, 0);
        for k in kinds {
            pending += u64::from(k.is_unfinished());
            not_found += u64::from(k == crate::sim::ItemKind::Expired);
        }
        Expected { pending, not_found }
    }
}

fn describe_faults(s: &StatsSnapshot, retries: u64) -> String {
    format!(
        "the simulator answered {} requests; faults: 429 rate-limited {}, 5xx {}, cut mid-body {}, \
         slow {}; the client retried {retries} times",
        s.requests,
        s.fault_429 + s.limited,
        s.fault_5xx,
        s.dropped,
        s.slow
    )
}

/// 0 when the export holds exactly what the simulator served; the fetch's code otherwise.
fn exit_code(s: &Summary, expected: &Expected) -> i32 {
    if s.stopped.is_some() {
        return s.exit_code();
    }
    if s.error == 0 && s.pending == expected.pending && s.not_found == expected.not_found {
        if s.pending + s.not_found > 0 {
            note!(
                "demo complete: the {} pending and {} not_found rows are part of the simulation \
                 (items still running, results past retention). A real `sail-export fetch` \
                 exits 3 for them so scripts notice; the demo exits 0 because every row is \
                 what the simulator served.",
                s.pending,
                s.not_found
            );
        }
        return exit::OK;
    }
    eprintln!(
        "demo incomplete: expected {} pending and {} not_found rows and no errors; see the \
         summary above",
        expected.pending, expected.not_found
    );
    s.exit_code()
}
