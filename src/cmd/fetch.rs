//! `sail-export fetch`: resolves what the user typed into a [`FetchConfig`], reads the
//! batch's status once (to skip unfinished items, or to list the ids without a manifest),
//! runs the pipeline, prints the summary and picks the exit code.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;

use super::status::{auth_error, batch_error, retention_warning};
use crate::api::model::Batch;
use crate::api::{Client, Outcome};
use crate::cli::FetchArgs;
use crate::error::{exit, UsageError};
use crate::fetch::{self, Plan, Settings};
use crate::ids::IdList;
use crate::manifest::Manifest;
use crate::sink::{self, Format};
use crate::summary::{now_unix, Stop, Summary};

/// A fetch, resolved: what the engine needs, with every flag already checked.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// The batch.
    pub batch_id: String,
    /// Unique ids in manifest order; `None` takes the keys of the batch's `request_status`.
    pub ids: Option<IdList>,
    /// The output file.
    pub out: PathBuf,
    /// The output format.
    pub format: Format,
    /// How to fetch.
    pub settings: Settings,
}

impl FetchConfig {
    /// The defaults of `fetch BATCH_ID -o OUT`: ids from the batch status, SQLite, 64 in
    /// flight, one pass, a progress bar when stderr is a terminal.
    pub fn new(batch_id: &str, out: PathBuf) -> FetchConfig {
        FetchConfig {
            batch_id: batch_id.to_owned(),
            ids: None,
            format: Format::from_path(&out),
            out,
            settings: Settings::default(),
        }
    }

    /// Checks the flags and reads the manifest; errors are usage errors (exit 2).
    pub fn from_args(args: &FetchArgs) -> anyhow::Result<FetchConfig> {
        let format = args
            .format
            .or(args.out.as_deref().map(Format::from_path))
            .unwrap_or(Format::Sqlite);
        let out = args.out.clone().unwrap_or_else(|| {
            let ext = match format {
                Format::Sqlite => "sqlite",
                Format::Parquet => "parquet",
            };
            PathBuf::from(format!("{}.{ext}", args.batch_id))
        });
        let secs = args.poll_interval;
        if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
            return Err(UsageError::new(format!(
                "--poll-interval must be a number of seconds above 0 and at most 86400, not {secs}"
            ))
            .into());
        }
        let ids = match &args.manifest {
            Some(path) => {
                let m = Manifest::read(path)?;
                for w in m.warnings() {
                    eprintln!("warning: {w}");
                }
                Some(m.ids)
            }
            None => None,
        };
        Ok(FetchConfig {
            batch_id: args.batch_id.clone(),
            ids,
            out,
            format,
            settings: Settings {
                concurrency: args.concurrency as usize,
                refetch_all: args.refetch_all,
                keep_raw: !args.no_raw,
                wait: args.wait.then(|| Duration::from_secs_f64(secs)),
                options_json: options_json(args, format),
                ..Settings::default()
            },
        })
    }
}

/// Runs `fetch`; returns the exit code.
pub async fn run(args: FetchArgs) -> anyhow::Result<i32> {
    let cfg = FetchConfig::from_args(&args)?;
    let client = super::client(&args.api, cfg.settings.concurrency)?;
    let summary = execute(&client, cfg, announced(shutdown_signal())).await?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    }
    eprintln!("{summary}");
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
        None if summary.pending > 0 && !args.wait => eprintln!(
            "{} ids are not finished yet; rerun later, or add --wait to keep polling until they are",
            summary.pending
        ),
        None => {}
    }
    Ok(summary.exit_code())
}

/// Runs a resolved fetch against `client`: one status read (ids whose batch status is not
/// terminal get a `pending` row without a request; without a manifest the ids are its
/// keys), then the pipeline, with `--wait` polling until every id is settled. Returns the
/// summary once every written row is committed; `stop` ends the run early (it is the
/// caller's signal handling, e.g. [`shutdown_signal`]).
pub async fn execute(
    client: &Client,
    mut cfg: FetchConfig,
    stop: impl Future<Output = Stop>,
) -> anyhow::Result<Summary> {
    tokio::pin!(stop);
    let status = tokio::select! {
        biased;
        why = &mut stop => return Ok(stopped_before_start(&cfg, why)),
        fetched = client.batch(&cfg.batch_id) => fetched.outcome,
    };
    if let Some(why) = client.unreachable() {
        return Err(unreachable_error(client.base_url(), why));
    }
    let given = cfg.ids.take();
    let (ids, not_ready) = resolve_ids(&cfg.batch_id, given, status, client.base_url())?;
    let sink = sink::open(&cfg.out, cfg.format)?;
    let plan = Plan {
        batch_id: cfg.batch_id,
        ids,
        not_ready,
        out: cfg.out.display().to_string(),
        settings: cfg.settings,
    };
    fetch::run(client, sink, plan, stop).await
}

/// The API never answered: most likely a wrong base URL or no network.
fn unreachable_error(base_url: &str, why: &str) -> anyhow::Error {
    anyhow!(
        "cannot reach the API at {base_url} ({why}); check --base-url / SAIL_BASE_URL and the network"
    )
}

/// The ids to export and those not finished yet (id → status), from the manifest (`given`)
/// and the batch's status. A status that cannot be read is worked around when there is a
/// manifest. Only unfinished statuses are kept: a 100,000-item batch costs no second map.
fn resolve_ids(
    id: &str,
    given: Option<IdList>,
    status: Outcome<Batch>,
    base_url: &str,
) -> anyhow::Result<(IdList, HashMap<String, String>)> {
    let (batch, given) = match (status, given) {
        (Outcome::Ok { value, .. }, given) => (value, given),
        (Outcome::AuthRejected, _) => return Err(auth_error()),
        (other, None) => {
            return Err(batch_error(other, id, base_url)
                .context("the ids come from the batch status without -m/--manifest"))
        }
        (other, Some(ids)) => {
            let why = match other {
                Outcome::NotFound { .. } => format!("batch '{id}' is not found at {base_url}"),
                Outcome::Failed { reason } => format!("cannot read the status of '{id}': {reason}"),
                _ => format!("the status of '{id}' is unavailable"),
            };
            eprintln!(
                "warning: {why}; fetching every id without it (unfinished items come back pending)"
            );
            return Ok((ids, HashMap::new()));
        }
    };
    if let Some(w) = retention_warning(id, batch.created_at, now_unix()) {
        eprintln!("{w}");
    }
    let unfinished: HashMap<String, String> = batch
        .unfinished()
        .into_iter()
        .map(|(i, s)| (i.to_owned(), s.to_owned()))
        .collect();
    let listed = batch.request_status.map(|r| r.into_ids());
    let ids = match given {
        Some(ids) => ids,
        None => listed.unwrap_or_default(),
    };
    if ids.is_empty() {
        return Err(anyhow!(
            "batch '{id}' lists no requests in request_status; pass -m/--manifest"
        ));
    }
    let not_ready = if unfinished.is_empty() {
        unfinished
    } else {
        ids.iter()
            .filter_map(|i| unfinished.get_key_value(i))
            .map(|(i, s)| (i.clone(), s.clone()))
            .collect()
    };
    Ok((ids, not_ready))
}

/// The summary of a run stopped while the batch status was being read: nothing written.
fn stopped_before_start(cfg: &FetchConfig, why: Stop) -> Summary {
    let total = cfg.ids.as_ref().map_or(0, |ids| ids.len() as u64);
    Summary {
        batch_id: cfg.batch_id.clone(),
        out: cfg.out.display().to_string(),
        total,
        not_attempted: total,
        stopped: Some(why),
        ..Summary::default()
    }
}

/// The run's options as recorded in the `runs` table (the key never is).
fn options_json(args: &FetchArgs, format: Format) -> String {
    serde_json::json!({
        "manifest": args.manifest.as_ref().map(|p| p.display().to_string()),
        "format": format!("{format:?}").to_lowercase(),
        "concurrency": args.concurrency,
        "max_retries": args.api.max_retries,
        "timeout_s": args.api.timeout,
        "refetch_all": args.refetch_all,
        "raw": !args.no_raw,
        "wait": args.wait,
        "poll_interval_s": args.wait.then_some(args.poll_interval),
        "base_url": args.api.base_url,
    })
    .to_string()
}

/// Says on stderr that the run is stopping, and lets a second signal quit at once (rows
/// committed so far stay; the transaction in progress is rolled back by SQLite).
async fn announced(stop: impl Future<Output = Stop>) -> Stop {
    let why = stop.await;
    let again = shutdown_signal();
    eprintln!(
        "stopping: committing the rows fetched so far (send the signal again to quit at once)"
    );
    tokio::spawn(async move {
        std::process::exit(match again.await {
            Stop::Terminated => exit::SIGTERM,
            _ => exit::SIGINT,
        });
    });
    why
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called,
/// not when it is first polled, so a signal during start-up is not lost. Call it inside
/// the runtime.
pub fn shutdown_signal() -> impl Future<Output = Stop> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let int = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        async move {
            match (int, term) {
                (Ok(mut i), Ok(mut t)) => tokio::select! {
                    _ = i.recv() => Stop::Interrupted,
                    _ = t.recv() => Stop::Terminated,
                },
                (Ok(mut i), Err(_)) => {
                    i.recv().await;
                    Stop::Interrupted
                }
                (Err(_), Ok(mut t)) => {
                    t.recv().await;
                    Stop::Terminated
                }
                (Err(_), Err(_)) => std::future::pending().await,
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
            Stop::Interrupted
        }
    }
}
