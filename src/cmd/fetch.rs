//! `sail-export fetch`: maps what the user typed to a [`fetch::Config`], runs it, prints the
//! summary and what to do next, and maps the outcome to an exit code.

use std::future::Future;

use crate::api::messages::unreachable_error;
use crate::cli::FetchArgs;
use crate::fetch::{self, shutdown_signal};
use crate::manifest::Manifest;
use crate::out;
use crate::sink::{Format, Output};
use crate::summary::{RunFailed, Stop, Summary};

/// Runs `fetch`; returns the exit code.
pub(crate) async fn run(args: FetchArgs) -> anyhow::Result<i32> {
    let cfg = config(&args)?;
    let client = super::client(&args.api, cfg.concurrency)?;
    let total = cfg.ids.as_ref().map_or(0, |ids| ids.len() as u64);
    let before_writing = Summary {
        batch_id: cfg.batch_id.clone(),
        out: cfg.output.show(),
        total,
        not_attempted: total,
        ..Summary::default()
    };
    let summary = match fetch::run(&client, cfg, announced(shutdown_signal())).await {
        Ok(summary) => summary,
        Err(e) if e.is::<RunFailed>() => return Err(e),
        // Ended before writing: no counts but the requests made (the status read).
        Err(e) => {
            let summary = Summary {
                requests: client.requests(),
                retries: client.retries(),
                ..before_writing
            };
            return Err(RunFailed::with_cause(summary, e));
        }
    };
    if args.json {
        out::line(&serde_json::to_string(&summary)?)?;
    }
    note!("{summary}");
    match summary.stopped {
        Some(Stop::AuthRejected) => eprintln!(
            "error: the API rejected the key (HTTP 401/403); check SAIL_API_KEY or --api-key-file. \
             Rows written so far are kept; rerun to resume."
        ),
        Some(Stop::Unreachable) => eprintln!(
            "error: {:#}. Rows written so far are kept; rerun to resume.",
            unreachable_error(client.base_url(), client.unreachable().unwrap_or("no answer"))
        ),
        Some(_) => {
            eprintln!("stopped; rows written so far are kept; rerun the same command to resume")
        }
        None if summary.pending > 0 && !args.wait => note!(
            "{} ids are not finished yet; rerun later, or add --wait to keep polling until they are",
            summary.pending
        ),
        None if summary.lost > 0 && summary.settled() => note!(
            "complete with losses: {} results are gone for good (past Sail's 48 h retention, or \
             not in the batch) and are not requested again; --retry-not-found asks once more",
            summary.lost
        ),
        None => {}
    }
    Ok(summary.exit_code())
}

/// Checks the flags and reads the manifest; errors are usage errors (exit 2).
fn config(args: &FetchArgs) -> anyhow::Result<fetch::Config> {
    fetch::check_batch_id(&args.batch_id)?;
    let output = Output::resolve(
        args.out.as_deref(),
        args.run.format.map(Format::from),
        &args.batch_id,
    )?;
    let mut cfg = args.config(output)?;
    if let Some(path) = &args.manifest {
        let m = Manifest::read(path)?;
        for w in m.warnings() {
            eprintln!("warning: {w}");
        }
        cfg.ids = Some(m.ids);
    }
    cfg.quiet = super::quiet();
    Ok(cfg)
}

/// Says on stderr that the run is stopping, and lets a second signal quit at once (rows
/// committed so far stay; the transaction in progress is rolled back by SQLite).
pub(super) async fn announced(stop: impl Future<Output = Stop>) -> Stop {
    let why = stop.await;
    let again = shutdown_signal();
    eprintln!(
        "stopping: committing the rows fetched so far (send the signal again to quit at once)"
    );
    tokio::spawn(async move {
        std::process::exit(again.await.exit_code());
    });
    why
}
