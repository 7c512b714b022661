//! `sail-export fetch`: maps what the user typed to a [`fetch::Config`], runs it, prints the
//! summary and what to do next, and maps the outcome to an exit code.

use std::future::Future;
use std::path::PathBuf;

use crate::api::messages::unreachable_error;
use crate::cli::FetchArgs;
use crate::error::UsageError;
use crate::fetch::{self, shutdown_signal};
use crate::manifest::Manifest;
use crate::out;
use crate::sink::Format;
use crate::summary::{RunFailed, Stop, Summary};

/// Runs `fetch`; returns the exit code.
pub(crate) async fn run(args: FetchArgs) -> anyhow::Result<i32> {
    let cfg = config(&args)?;
    let client = super::client(&args.api, cfg.concurrency)?;
    let total = cfg.ids.as_ref().map_or(0, |ids| ids.len() as u64);
    let before_writing = Summary {
        batch_id: cfg.batch_id.clone(),
        out: cfg.out.display().to_string(),
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
    let format = format(args.out.as_deref(), args.run.format.map(Format::from))?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.{}", args.batch_id, format.name())));
    let mut cfg = args.config(out, format)?;
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

/// The output format: `--format`, else what `-o` names: a dataset for a path ending in
/// `/`, an existing folder or an object storage URL; else the file's extension (`.sqlite` /
/// `.db` or `.parquet`); else SQLite. An `-o` that names another format than `--format`,
/// or an extension we do not know without `--format`, is refused rather than guessed.
pub(super) fn format(
    out: Option<&std::path::Path>,
    given: Option<Format>,
) -> Result<Format, UsageError> {
    let Some(out) = out else {
        return match given {
            Some(Format::Dataset) => Err(UsageError::new(
                "--format dataset needs -o/--out: a folder (e.g. -o results/) or an s3:// URL",
            )),
            given => Ok(given.unwrap_or(Format::Sqlite)),
        };
    };
    let implied = match Format::names_dataset(out) {
        true => Some(Format::Dataset),
        false => Format::from_extension(out),
    };
    match (given, implied) {
        (Some(Format::Dataset), _) => Ok(Format::Dataset),
        (Some(f), Some(Format::Dataset)) => Err(UsageError::new(format!(
            "-o/--out '{}' is a folder or URL, which holds a dataset, but --format says {}; give a \
             file name for {}, or drop --format",
            out.display(),
            f.name(),
            f.name()
        ))),
        (Some(f), Some(implied)) if f != implied => Err(UsageError::new(format!(
            "-o/--out '{}' says {} by its extension but --format says {}; name it .{} or drop \
             --format",
            out.display(),
            implied.name(),
            f.name(),
            f.name()
        ))),
        (Some(f), _) | (None, Some(f)) => Ok(f),
        (None, None) => Err(UsageError::new(format!(
            "cannot tell the format of -o/--out '{}' from its extension: name it .sqlite or .db \
             for SQLite, .parquet for Parquet, end it with / for a dataset folder, or pass \
             --format sqlite|parquet|dataset",
            out.display()
        ))),
    }
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
