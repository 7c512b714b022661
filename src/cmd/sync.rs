//! `sail-export sync`: maps what the user typed to a [`sync::Config`], runs the sync engine
//! ([`crate::sync`]), prints a line per batch, the totals and what to do next, and returns
//! the exit code ([`sync::Report::exit_code`]; an error that is the outcome keeps its own).

use super::fetch::announced;
use crate::cli::SyncArgs;
use crate::error::exit;
use crate::fetch::{self, shutdown_signal};
use crate::out;
use crate::sink::{Format, Output};
use crate::summary::Stop;
use crate::sync::{self, Line, Report, State};

/// Runs `sync`; returns the exit code.
pub(crate) async fn run(args: SyncArgs) -> anyhow::Result<i32> {
    let json = args.json;
    let output = early(
        json,
        Output::resolve(Some(&args.out), args.run.format.map(Format::from), "")
            .map_err(anyhow::Error::from),
    )?;
    let client = early(json, super::client(&args.api, args.run.jobs.concurrency))?;
    let cfg = sync::Config {
        created_from: args.since.map(|s| s.0),
        fetch: config(&args, output),
    };
    let ready = early(json, sync::prepare(&client, cfg).await)?;
    let stop = announced(shutdown_signal());
    let synced = ready.run(&client, stop, &mut print).await?;
    if let Some(e) = synced.failed {
        if args.json {
            let obj = super::with_failure(serde_json::to_value(&synced.report)?, &e);
            out::line(&obj.to_string())?;
        }
        return Err(e);
    }
    Ok(finish(synced.report, &args, synced.stopped))
}

/// With `--json`, an error that ends the sync before it has a report still prints a JSON
/// object on stdout (`fatal_error`, `exit_code`); the message goes to stderr as always.
fn early<T>(json: bool, result: anyhow::Result<T>) -> anyhow::Result<T> {
    if let (true, Err(e)) = (json, &result) {
        out::line(&super::failure_json(e).to_string())?;
    }
    result
}

/// Says what happened to one batch, as it happens.
fn print(line: &Line) {
    let id = &line.batch_id;
    match (line.state, &line.summary) {
        (State::AlreadyComplete, _) => match line.lost {
            0 => note!("{id}: already complete in the output; nothing requested"),
            n => note!(
                "{id}: already complete in the output with losses ({n} results gone for \
                 good); nothing requested"
            ),
        },
        (State::Error, _) => {
            eprintln!(
                "error: batch '{id}': {}",
                line.error.as_deref().unwrap_or("")
            )
        }
        (State::Complete | State::Incomplete, Some(s)) => {
            note!("{s}");
            if s.stopped.is_some_and(|w| w.exit_code() == exit::FATAL) {
                eprintln!(
                    "error: batch '{id}': {}; the sync stopped here (rows written so far are kept)",
                    s.outcome()
                );
            }
        }
        (State::Complete | State::Incomplete, None) => {}
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
    let code = report.exit_code(stopped);
    match code {
        _ if stopped.is_some() => {}
        exit::INCOMPLETE => note!("rerun the same command to pick up what is not finished yet"),
        exit::LOSSES => note!(
            "complete with losses: {} results are gone for good (404 past Sail's 48 h \
             retention) and are not requested again; --retry-not-found asks once more",
            report.lost
        ),
        _ => {}
    }
    code
}

/// The fetch of each batch: its ids from its status, into the shared output.
fn config(args: &SyncArgs, output: Output) -> fetch::Config {
    let mut cfg = args.config("", output);
    cfg.quiet = super::quiet();
    cfg
}
