//! `sail-export reconcile`: scans the exports, reads the bill from the usage API, compares
//! them per UTC day × model and prints the findings; exit 3 when something disagrees.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};

use crate::api::usage::Breakdown;
use crate::api::{Client, ClientConfig, Outcome};
use crate::cli::reconcile::ReconcileArgs;
use crate::cost::scan::{self, Dims, Scan};
use crate::error::exit;
use crate::prices::PriceTable;
use crate::reconcile::{compare, exported, render};
use crate::time::Span;

/// A reconcile to run, resolved from what the user typed.
#[derive(Debug, Clone)]
pub struct Request {
    /// The exports.
    pub exports: Vec<PathBuf>,
    /// `7d`, `30d` or `period`.
    pub range: String,
    /// A price file over the bundled one.
    pub prices: Option<PathBuf>,
    /// Print JSON instead of the table.
    pub json: bool,
    /// The usage API client's settings (its base URL and key).
    pub client: ClientConfig,
}

impl Request {
    /// Checks the flags (usage errors, exit 2) and reads the key.
    fn from_args(args: ReconcileArgs) -> anyhow::Result<Request> {
        let mut client =
            super::client_config(&args.key, &args.usage_url, "--usage-url / SAIL_USAGE_URL")?;
        client.pool_size = 1;
        Ok(Request {
            exports: args.exports,
            range: args.range.name().to_owned(),
            prices: args.prices,
            json: args.json,
            client,
        })
    }
}

impl Request {
    /// The demo's reconcile: its export against the simulator's usage API.
    pub(crate) fn demo(export: &Path, usage_url: &str, key: &str) -> Request {
        Request {
            exports: vec![export.to_owned()],
            range: "7d".to_owned(),
            prices: None,
            json: false,
            client: ClientConfig::new(usage_url, key),
        }
    }
}

/// Runs `reconcile`; returns the exit code: 0 when everything covered agrees, 3 otherwise.
pub(crate) async fn run(args: ReconcileArgs) -> anyhow::Result<i32> {
    run_to(&Request::from_args(args)?, &mut crate::out::Stdout).await
}

/// Compares and writes the report to `out`; returns the exit code.
pub async fn run_to(req: &Request, out: &mut dyn std::io::Write) -> anyhow::Result<i32> {
    let prices = PriceTable::load(req.prices.as_deref())?;
    let scans = req
        .exports
        .iter()
        .map(|p| scan::export(p, None, Span::default(), &Dims::default()))
        .collect::<anyhow::Result<Vec<Scan>>>()?;
    let bill = read_bill(&req.client, &req.range).await?;
    let r = compare(&req.range, &bill, exported(scans, &prices), &prices);
    let code = match r.disagrees() {
        true => exit::INCOMPLETE,
        false => exit::OK,
    };
    let text = match req.json {
        true => format!("{}\n", render::json(&r, code)),
        false => render::text(&r),
    };
    out.write_all(text.as_bytes())
        .context("writing the reconciliation")?;
    Ok(code)
}

/// The bill per day for `range`; a rejected key is exit 1 naming the key, never showing it.
async fn read_bill(cfg: &ClientConfig, range: &str) -> anyhow::Result<Breakdown> {
    let url = &cfg.base_url;
    let client = Client::new(cfg.clone()).context("setting up the usage API client")?;
    let bill = match client.usage_breakdown(range).await.outcome {
        Outcome::Ok { value, .. } => value,
        Outcome::AuthRejected => {
            return Err(anyhow!(
                "the usage API at {url} rejected the key (HTTP 401/403); check SAIL_API_KEY or \
                 --api-key-file (the key needs access to the organisation's usage)"
            ))
        }
        Outcome::NotFound { .. } => {
            return Err(anyhow!(
                "the usage API at {url} has no /usage/breakdown (HTTP 404); check --usage-url / \
                 SAIL_USAGE_URL (Sail's is {})",
                crate::api::usage::DEFAULT_USAGE_URL
            ))
        }
        Outcome::Failed { reason } => {
            return Err(anyhow!(
                "cannot read the bill from the usage API at {url}: {reason}; check --usage-url / SAIL_USAGE_URL"
            ))
        }
        Outcome::Skipped => return Err(anyhow!("the usage API client stopped before asking")),
    };
    match bill.granularity.as_deref() {
        None | Some("day") => Ok(bill),
        Some(g) => Err(anyhow!(
            "the usage API answered range '{range}' in buckets of '{g}', not days; cannot compare"
        )),
    }
}
