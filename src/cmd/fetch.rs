//! `sail-export fetch`: maps what the user typed to a [`fetch::Config`], runs it, prints the
//! summary and what to do next, and maps the outcome to an exit code.

use std::future::Future;
use std::time::Duration;

use crate::api::messages::unreachable_error;
use crate::cli::FetchArgs;
use crate::error::UsageError;
use crate::fetch::{self, shutdown_signal};
use crate::manifest::Manifest;
use crate::out;
use crate::sink::{Existing, Format, Output};
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
        args.format.map(Format::from),
        &args.batch_id,
    )?;
    let format = output.format();
    let secs = args.poll_interval;
    if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
        return Err(UsageError::new(format!(
            "--poll-interval must be a number of seconds above 0 and at most 86400, not {secs}"
        ))
        .into());
    }
    let mut cfg = fetch::Config::new(&args.batch_id, output.path().to_owned());
    if let Some(path) = &args.manifest {
        let m = Manifest::read(path)?;
        for w in m.warnings() {
            eprintln!("warning: {w}");
        }
        cfg.ids = Some(m.ids);
    }
    cfg.output = output;
    cfg.concurrency = args.concurrency as usize;
    cfg.refetch_all = args.refetch_all;
    cfg.retry_not_found = args.retry_not_found;
    cfg.keep_raw = !args.no_raw;
    cfg.quiet = super::quiet();
    cfg.wait = args.wait.then(|| Duration::from_secs_f64(secs));
    cfg.wait_for_lock = args.wait_for_lock;
    cfg.shard = args.shard;
    if args.allow_foreign_db {
        cfg.existing = Existing::AnyDatabase;
    }
    cfg.options_json = options_json(args, format);
    Ok(cfg)
}

/// The run's options as recorded in the `runs` table (the key never is).
fn options_json(args: &FetchArgs, format: Format) -> String {
    serde_json::json!({
        "manifest": args.manifest.as_ref().map(|p| p.display().to_string()),
        "format": format.name(),
        "concurrency": args.concurrency,
        "max_retries": args.api.max_retries,
        "timeout_s": args.api.timeout,
        "refetch_all": args.refetch_all,
        "retry_not_found": args.retry_not_found,
        "shard": args.shard.map(|s| s.to_string()),
        "raw": !args.no_raw,
        "wait": args.wait,
        "poll_interval_s": args.wait.then_some(args.poll_interval),
        "base_url": args.api.base_url,
        "ca_certs": args.api.ca_cert.len(),
        "http1_only": args.api.http1_only,
        "allow_insecure_http": args.api.allow_insecure_http,
    })
    .to_string()
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
