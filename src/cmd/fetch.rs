//! `sail-export fetch`: resolves the manifest, the output and the options, runs the
//! pipeline, prints the summary and picks the exit code.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::anyhow;

use crate::api::Outcome;
use crate::cli::FetchArgs;
use crate::fetch::{self, Plan};
use crate::manifest::Manifest;
use crate::sink::{self, Format};
use crate::summary::Stop;

/// Runs `fetch`; returns the exit code.
pub async fn run(args: FetchArgs) -> anyhow::Result<i32> {
    let client = super::client(&args.api, args.concurrency as usize)?;
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
    let ids = match &args.manifest {
        Some(path) => {
            let m = Manifest::read(path)?;
            for w in m.warnings() {
                eprintln!("warning: {w}");
            }
            m.ids
        }
        None => ids_from_batch(&client, &args.batch_id).await?,
    };
    let sink = sink::open(&out, format)?;
    let plan = Plan {
        batch_id: args.batch_id.clone(),
        ids,
        not_ready: HashMap::new(),
        concurrency: args.concurrency as usize,
        refetch_all: args.refetch_all,
        keep_raw: !args.no_raw,
        progress: std::io::stderr().is_terminal(),
        out: out.display().to_string(),
        options_json: options_json(&args, format),
    };
    let summary = fetch::run(&client, sink, plan, shutdown_signal()).await?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    }
    eprintln!("{summary}");
    match summary.stopped {
        Some(Stop::AuthRejected) => eprintln!(
            "error: the API rejected the key (HTTP 401/403); check SAIL_API_KEY or --api-key-file. \
             Rows written so far are kept; rerun to resume."
        ),
        Some(_) => {
            eprintln!("stopped; rows written so far are kept; rerun the same command to resume")
        }
        None => {}
    }
    Ok(summary.exit_code())
}

/// Without a manifest, the ids are the keys of the batch's `request_status`.
async fn ids_from_batch(
    client: &crate::api::Client,
    batch_id: &str,
) -> anyhow::Result<Vec<String>> {
    let fetched = client.batch(batch_id).await;
    match fetched.outcome {
        Outcome::Ok { value, .. } => {
            let ids: Vec<String> = value.request_status.unwrap_or_default().into_keys().collect();
            if ids.is_empty() {
                return Err(anyhow!("batch '{batch_id}' lists no requests in request_status; pass -m/--manifest"));
            }
            Ok(ids)
        }
        Outcome::NotFound { .. } => Err(crate::error::UsageError::new(format!(
            "batch '{batch_id}' not found at {} (check BATCH_ID and --base-url)",
            client.base_url()
        ))
        .into()),
        Outcome::AuthRejected => Err(anyhow!("the API rejected the key (HTTP 401/403); check SAIL_API_KEY or --api-key-file")),
        Outcome::Failed { reason } => Err(anyhow!(
            "cannot read the status of batch '{batch_id}' to list its ids: {reason}; pass -m/--manifest"
        )),
        Outcome::Skipped => Err(anyhow!("the API client stopped before reading batch '{batch_id}'")),
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
        "base_url": args.api.base_url,
    })
    .to_string()
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() -> Stop {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return Stop::Interrupted;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => Stop::Interrupted,
            _ = term.recv() => Stop::Terminated,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        Stop::Interrupted
    }
}
