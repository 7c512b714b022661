//! `sail-export sync`: every batch of the account (or of the last `--since`) into one
//! output, oldest first (they are the nearest to deletion), skipping each batch that is
//! already complete there without a request; then a line per batch and the exit code.
//!
//! The exit code depends on the state reached, never on what an earlier run did: 0 every
//! listed batch complete; 4 every one complete but some with losses (results gone for good:
//! final `not_found`); 3 some batch still unfinished or failing (an error of its own, its
//! status unreadable say, on every run); 130/143 a signal; 1 a rejected key or an
//! unreachable API. When every batch tried failed before any request (the output is busy,
//! say), that error is the outcome, with its own exit code.

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
use crate::row::{GONE, NOT_IN_BATCH};
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
    /// Ids of a complete batch that are gone for good (final `not_found`): its losses.
    lost: u64,
    /// HTTP requests made for this batch (its status reads included).
    requests: u64,
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
    /// Complete batches (now or already) with losses, and their ids gone for good.
    with_losses: usize,
    lost: u64,
    requests: u64,
    lines: Vec<Line>,
}

/// Runs `sync`; returns the exit code.
pub(crate) async fn run(args: SyncArgs) -> anyhow::Result<i32> {
    let json = args.json;
    let format = early(
        json,
        super::fetch::format(Some(&args.out), args.run.format.map(Format::from))
            .map_err(anyhow::Error::from),
    )?;
    let client = early(json, super::client(&args.api, args.run.jobs.concurrency))?;
    let done = early(json, Done::read(&args.out, format))?;
    let mut batches = early(json, list_all(&client, None).await)?;
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
        if let Some(lost) = done.has(&id, b, args.run.retry_not_found)? {
            match lost {
                0 => note!("{id}: already complete in the output; nothing requested"),
                n => note!(
                    "{id}: already complete in the output with losses ({n} results gone for \
                     good); nothing requested"
                ),
            }
            report.tally(Line {
                batch_id: id,
                created_at_utc,
                state: "already_complete",
                lost,
                requests: 0,
                summary: None,
                error: None,
            });
            continue;
        }
        let mut cfg = args.config(&id, format);
        cfg.quiet = super::quiet();
        let before = client.requests();
        let result = fetch::run(&client, cfg, stopped(stop.clone())).await;
        let requests = client.requests() - before;
        let line = match result {
            Ok(s) => {
                note!("{s}");
                let state = match s.stopped.is_none() && s.settled() {
                    true => "complete",
                    false => "incomplete",
                };
                let stop_here = s.stopped;
                if stop_here.is_some_and(|w| w.exit_code() == exit::FATAL) {
                    eprintln!(
                        "error: batch '{id}': {}; the sync stopped here (rows written so far are kept)",
                        s.outcome()
                    );
                }
                let line = Line {
                    batch_id: id,
                    created_at_utc,
                    state,
                    lost: if state == "complete" { s.lost } else { 0 },
                    requests,
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
                // A rejected key or an API that never answers is not this batch's problem:
                // the next batches would fail alike.
                let global = client.halted();
                first_error.get_or_insert(e);
                let line = Line {
                    batch_id: id,
                    created_at_utc,
                    state: "error",
                    lost: 0,
                    requests,
                    summary: None,
                    error: Some(text),
                };
                if global {
                    report.tally(line);
                    break;
                }
                line
            }
        };
        report.tally(line);
    }
    watcher.abort();
    // A rejected key or an unreachable API; or every batch tried failed before any request
    // (a busy output, a bad folder, say): that error is the outcome, with its own exit code.
    // A batch whose own status cannot be read made requests: it is an `error` line, exit 3.
    let global = client.halted();
    let none_requested = report.lines.iter().all(|l| l.requests == 0);
    if report.errors > 0 && (global || report.complete + report.incomplete == 0 && none_requested) {
        if let Some(e) = first_error {
            if args.json {
                let obj = super::with_failure(serde_json::to_value(&report)?, &e);
                out::line(&obj.to_string())?;
            }
            return Err(e);
        }
    }
    Ok(finish(report, &args, None))
}

/// With `--json`, an error that ends the sync before it has a report still prints a JSON
/// object on stdout (`fatal_error`, `exit_code`); the message goes to stderr as always.
fn early<T>(json: bool, result: anyhow::Result<T>) -> anyhow::Result<T> {
    if let (true, Err(e)) = (json, &result) {
        out::line(&super::failure_json(e).to_string())?;
    }
    result
}

impl Report {
    fn tally(&mut self, line: Line) {
        self.requests += line.requests;
        if line.lost > 0 {
            self.with_losses += 1;
            self.lost += line.lost;
        }
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
/// batch is complete in the output, 4 when they all are but some with losses, 3 when some
/// are not (pending, failed, or an error); a stop's own code ([`Stop::exit_code`]).
fn finish(report: Report, args: &SyncArgs, stopped: Option<Stop>) -> i32 {
    if args.json {
        match serde_json::to_string(&report) {
            Ok(j) => out::line(&j).unwrap_or_else(|e| eprintln!("error: {e}")),
            Err(e) => eprintln!("error: {e}"),
        }
    }
    let losses = match report.with_losses {
        0 => String::new(),
        n => format!(" ({n} with losses: {} results gone for good)", report.lost),
    };
    note!(
        "sync: {} batches -> {}: {} already complete, {} complete now{losses}, {} incomplete, {} errors; {} requests",
        report.batches,
        report.out,
        report.already_complete,
        report.complete,
        report.incomplete,
        report.errors,
        report.requests
    );
    match stopped {
        Some(why) => why.exit_code(),
        None if report.incomplete + report.errors > 0 => {
            note!("rerun the same command to pick up what is not finished yet");
            exit::INCOMPLETE
        }
        None if report.with_losses > 0 => {
            note!(
                "complete with losses: {} results are gone for good (404 past Sail's 48 h \
                 retention) and are not requested again; --retry-not-found asks once more",
                report.lost
            );
            exit::LOSSES
        }
        None => exit::OK,
    }
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

/// Per batch of a Parquet output, its fetched and final `not_found` rows, read in place
/// (three columns, no copy).
fn parquet_counts(inputs: &export::inputs::Inputs) -> anyhow::Result<HashMap<String, (u64, u64)>> {
    use crate::row::Cell;
    let mut counts: HashMap<String, (u64, u64)> = HashMap::new();
    let names = ["batch_id", "fetch_state", "fetch_error"];
    export::columns::read(inputs, &names, &mut |c| {
        for r in 0..c.rows {
            let text = |i: usize| match c.cols[i].cell(r) {
                Cell::Text(s) => Some(s),
                _ => None,
            };
            let Some(batch) = c.batch_id.or(text(0)) else {
                continue;
            };
            let state = text(1).unwrap_or_default();
            let fetched = state == crate::row::FetchState::Fetched.as_str();
            let lost = crate::row::is_lost(state, text(2));
            if !(fetched || lost) && counts.contains_key(batch) {
                continue;
            }
            let n = counts.entry(batch.to_owned()).or_default();
            n.0 += u64::from(fetched);
            n.1 += u64::from(lost);
        }
        Ok(())
    })?;
    Ok(counts)
}

/// What the output already holds complete.
enum Done {
    /// A dataset: a batch is complete when its marker is there.
    Markers(Store),
    /// A file: per batch, its fetched rows and its final `not_found` ones (lost); complete
    /// when together they reach the batch's total.
    Counts(HashMap<String, (u64, u64)>),
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
        let cannot = |e: anyhow::Error| {
            UsageError::new(format!("cannot sync into '{}': {e:#}", out.display()))
        };
        if let export::Export::Parquet(inputs) = export::detect(out).map_err(cannot)? {
            return Ok(Done::Counts(parquet_counts(&inputs).map_err(cannot)?));
        }
        let db = export::open(out).map_err(cannot)?;
        // The final `not_found` rows, as `row::is_lost` tells them.
        let lost = format!(
            "fetch_state = 'not_found' AND (substr(fetch_error, 1, {}) = '{GONE}' \
             OR substr(fetch_error, 1, {}) = '{NOT_IN_BATCH}')",
            GONE.len(),
            NOT_IN_BATCH.len()
        );
        let mut stmt = db.prepare(&format!(
            "SELECT batch_id, count(*) FILTER (WHERE fetch_state = 'fetched'), \
             count(*) FILTER (WHERE {lost}) FROM results GROUP BY 1"
        ))?;
        let counts = stmt
            .query_map([], |r| {
                let n = |i| r.get::<_, i64>(i).map(|n| n as u64);
                Ok((r.get::<_, String>(0)?, (n(1)?, n(2)?)))
            })?
            .collect::<rusqlite::Result<HashMap<_, _>>>()?;
        Ok(Done::Counts(counts))
    }

    /// `Some(lost)` when `id` is complete in the output, `lost` of its ids gone for good
    /// (a dataset: its marker, which counts them; a file: as many fetched and final
    /// `not_found` rows as the list's `request_counts` says the batch holds; without a count,
    /// not known, so fetched — which then requests nothing it has). With `retry_lost`, a
    /// batch with losses is not complete: its lost ids are requested again.
    fn has(&self, id: &str, b: &Batch, retry_lost: bool) -> anyhow::Result<Option<u64>> {
        let lost = match self {
            Done::Markers(store) => {
                let Some(marker) = fetch::blocking(|| store.get(&layout::complete_marker(id)))?
                else {
                    return Ok(None);
                };
                let marker: serde_json::Value = serde_json::from_slice(&marker).unwrap_or_default();
                marker["lost"].as_u64().unwrap_or(0)
            }
            Done::Counts(counts) => {
                let (fetched, lost) = counts.get(id).copied().unwrap_or((0, 0));
                match b.total_requests() {
                    Some(t) if t > 0 && fetched + lost >= t => lost,
                    _ => return Ok(None),
                }
            }
        };
        Ok((!retry_lost || lost == 0).then_some(lost))
    }
}
