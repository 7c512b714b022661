//! `sail-export reconcile`'s arguments: the exports, the usage API and its range.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::args::KeyArgs;
use super::help::help;
use crate::api::usage::DEFAULT_USAGE_URL;

/// The environment `reconcile` reads.
const RECONCILE_ENV: &[(&str, &str)] = &[
    (
        "SAIL_API_KEY",
        "the API key (or --api-key-file); never printed or stored",
    ),
    (
        "SAIL_USAGE_URL",
        "the usage API base URL, with /v1 (or --usage-url)",
    ),
    (
        "RUST_LOG",
        "log filter on stderr, e.g. debug; decides over -v",
    ),
];

/// The span of the bill to compare with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UsageRange {
    /// The last 7 UTC days.
    #[value(name = "7d")]
    Days7,
    /// The last 30 UTC days.
    #[value(name = "30d")]
    Days30,
    /// The current billing period.
    Period,
}

impl UsageRange {
    /// The usage API's name for it.
    pub fn name(self) -> &'static str {
        match self {
            UsageRange::Days7 => "7d",
            UsageRange::Days30 => "30d",
            UsageRange::Period => "period",
        }
    }
}

/// `sail-export reconcile`: compare exports with what Sail billed, per UTC day and model.
#[derive(Debug, Clone, Args)]
#[command(after_help = help(
    &[
        "sail-export reconcile results.sqlite",
        "sail-export reconcile sept.sqlite oct.parquet results/ --range period",
        "sail-export reconcile results.sqlite --range 7d --json > reconcile.json",
    ],
    RECONCILE_ENV,
))]
pub struct ReconcileArgs {
    /// SQLite or Parquet exports (files, folders or datasets); together they are compared
    /// with the bill, so give each row once.
    #[arg(required = true, value_name = "EXPORT")]
    pub exports: Vec<PathBuf>,
    /// The span of the bill to compare with.
    #[arg(long, value_enum, default_value_t = UsageRange::Days30)]
    pub range: UsageRange,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// A price file (TOML) that overrides and extends the bundled prices.
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
    /// The usage API's base URL, including /v1.
    #[arg(long, env = "SAIL_USAGE_URL", default_value = DEFAULT_USAGE_URL)]
    pub usage_url: String,
    /// The key and the connection.
    #[command(flatten)]
    pub key: KeyArgs,
}
