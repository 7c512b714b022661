//! `sail-export sync`: every batch of the account (or of the last `--since`) into one
//! output, oldest first (they are the nearest to deletion), skipping each batch that is
//! already complete there without a request; then a line per batch and the exit code.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;
use tokio::sync::watch;

use super::fetch::announced;
use super::list::list_all;
use crate::api::model::Batch;
use crate::cli::SyncArgs;
use crate::error::{exit, UsageError};
use crate::export;
use crate::fetch::{self, shutdown_signal};
use crate::out;
use crate::sink::dataset::layout;
use crate::sink::dataset::store::Store;
use crate::sink::Format;
use crate::summary::{Stop, Summary};
use crate::time::{now_unix, utc_text};

/// What happened to one batch.
#[derive(Debug, Serialize)]
struct Line {
    batch_id: String,
    created_at_utc: Option<String>,
    /// `already_complete` (nothing requested), `complete`, `incomplete` (pending or failed
    /// ids left for the next run) or `error`.
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The whole run, as `--json` prints it.
#[derive(Debug, Default, Serialize)]
struct Report {
    out: String,
    batches: usize,
    already_complete: usize,
    complete: usize,
    incomplete: usize,
    errors: usize,
    requests: u64,
    lines: Vec<Line>,
}

/// Runs `sync`; returns the exit code.
pub(crate) async fn run(args: SyncArgs) -> anyhow::Result<i32> {
    let format = super::fetch::format(Some(&args.out), args.format.map(Format::from))?;
    let client = super::client(&args.api, args.concurrency as usize)?;
    let done = Done::read(&args.out, format)?;
    let mut batches = list_all(&client, None).await?;
    if let Some(since) = args.since {
        let from = now_unix() - since.as_secs() as i64;
        batches.retain(|b| b.created_at.is_none_or(|c| c >= from));
    }
    // Oldest first: they are the nearest to Sail's deletion. Undated ones last.
    batches.sort_by_key(|b| (b.created_at.is_none(), b.created_at));
    let (tx, stop) = watch::channel(None::<Stop>);
    let watcher = tokio::spawn(async move {
        let why = announced(shutdown_signal()).await;
        let _ = tx.send(Some(why));
    });
    let mut report = Report {
        out: args.out.display().to_string(),
        batches: batches.len(),
        ..Report::default()
    };
    let mut first_error = None;
    for b in &batches {
        let Some(id) = b.id.clone() else { continue };
        if let Some(why) = *stop.borrow() {
            return Ok(finish(report, &args, Some(why)));
        }
        let created_at_utc = b.created_at.map(utc_text);
        if done.has(&id, b)? {
            note!("{id}: already complete in the output; nothing requested");
            report.tally(Line {
                batch_id: id,
                created_at_utc,
                state: "already_complete",
                summary: None,
                error: None,
            });
            continue;
        }
        let cfg = config(&args, format, &id);
        let line = match fetch::run(&client, cfg, stopped(stop.clone())).await {
            Ok(s) => {
                note!("{s}");
                report.requests += s.requests;
                let state = match s.exit_code() {
                    exit::OK => "complete",
                    _ => "incomplete",
                };
                if let Some(why) = s.stopped {
                    if matches!(why, Stop::AuthRejected | Stop::Unreachable) {
                        return Err(anyhow::anyhow!(
                            "batch '{id}': {}; the sync stopped here (rows written so far are kept)",
                            s.outcome()
                        ));
                    }
                }
                let stop_here = s.stopped;
                let line = Line {
                    batch_id: id,
                    created_at_utc,
                    state,
                    summary: Some(s),
                    error: None,
                };
                if let Some(why) = stop_here {
                    report.tally(line);
                    return Ok(finish(report, &args, Some(why)));
                }
                line
            }
            Err(e) => {
                eprintln!("error: batch '{id}': {e:#}");
                let text = format!("{e:#}");
                first_error.get_or_insert(e);
                Line {
                    batch_id: id,
                    created_at_utc,
                    state: "error",
                    summary: None,
                    error: Some(text),
                }
            }
        };
        report.tally(line);
    }
    watcher.abort();
    // Every batch tried failed (a busy output, a bad folder, say): the first error is the
    // outcome, with its own exit code.
    if report.errors > 0 && report.complete + report.incomplete == 0 {
        if let Some(e) = first_error {
            if args.json {
                out::line(&serde_json::to_string(&report)?)?;
            }
            return Err(e);
        }
    }
    Ok(finish(report, &args, None))
}

impl Report {
    fn tally(&mut self, line: Line) {
        match line.state {
            "already_complete" => self.already_complete += 1,
            "complete" => self.complete += 1,
            "incomplete" => self.incomplete += 1,
            _ => self.errors += 1,
        }
        self.lines.push(line);
    }
}

/// Prints the totals (and the JSON report) and returns the exit code: 0 when every listed
/// batch is complete in the output, 3 when some are not (pending, failed, or an error).
fn finish(report: Report, args: &SyncArgs, stopped: Option<Stop>) -> i32 {
    if args.json {
        match serde_json::to_string(&report) {
            Ok(j) => out::line(&j).unwrap_or_else(|e| eprintln!("error: {e}")),
            Err(e) => eprintln!("error: {e}"),
        }
    }
    note!(
        "sync: {} batches -> {}: {} already complete, {} complete now, {} incomplete, {} errors; {} requests",
        report.batches,
        report.out,
        report.already_complete,
        report.complete,
        report.incomplete,
        report.errors,
        report.requests
    );
    match stopped {
        Some(Stop::Interrupted) => exit::SIGINT,
        Some(Stop::Terminated) => exit::SIGTERM,
        Some(_) => exit::INCOMPLETE,
        None if report.incomplete + report.errors == 0 => exit::OK,
        None => {
            note!("rerun the same command to pick up what is not finished yet");
            exit::INCOMPLETE
        }
    }
}

/// The fetch of one batch: its ids from its status, into the shared output.
fn config(args: &SyncArgs, format: Format, batch_id: &str) -> fetch::Config {
    let mut cfg = fetch::Config::new(batch_id, args.out.clone());
    cfg.format = format;
    cfg.concurrency = args.concurrency as usize;
    cfg.keep_raw = !args.no_raw;
    cfg.quiet = super::quiet();
    cfg.wait_for_lock = args.wait_for_lock;
    cfg.options_json = serde_json::json!({
        "command": "sync",
        "format": format.name(),
        "concurrency": args.concurrency,
        "raw": !args.no_raw,
        "base_url": args.api.base_url,
    })
    .to_string();
    cfg
}

/// Resolves once the sync is told to stop.
async fn stopped(mut rx: watch::Receiver<Option<Stop>>) -> Stop {
    loop {
        if let Some(why) = *rx.borrow_and_update() {
            return why;
        }
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// What the output already holds complete.
enum Done {
    /// A dataset: a batch is complete when its marker is there.
    Markers(Store),
    /// A file: fetched rows per batch, complete when they reach the batch's total.
    Counts(HashMap<String, u64>),
}

impl Done {
    fn read(out: &Path, format: Format) -> anyhow::Result<Done> {
        if format == Format::Dataset {
            let store = Store::open(&out.to_string_lossy())?;
            fetch::blocking(|| store.check())?;
            return Ok(Done::Markers(store));
        }
        if !out.exists() {
            return Ok(Done::Counts(HashMap::new()));
        }
        let db = export::open(out)
            .map_err(|e| UsageError::new(format!("cannot sync into '{}': {e:#}", out.display())))?;
        let mut stmt = db.prepare(
            "SELECT batch_id, count(*) FROM results WHERE fetch_state = 'fetched' GROUP BY 1",
        )?;
        let counts = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect::<rusqlite::Result<HashMap<_, _>>>()?;
        Ok(Done::Counts(counts))
    }

    /// Whether `id` is complete in the output (a file: as many fetched rows as the list's
    /// `request_counts` says the batch holds; without a count, not known, so fetched — which then requests
    /// nothing it has).
    fn has(&self, id: &str, b: &Batch) -> anyhow::Result<bool> {
        match self {
            Done::Markers(store) => {
                Ok(fetch::blocking(|| store.get(&layout::complete_marker(id)))?.is_some())
            }
            Done::Counts(counts) => {
                let total = b.total_requests();
                Ok(total.is_some_and(|t| t > 0 && counts.get(id).copied().unwrap_or(0) >= t))
            }
        }
    }
}
