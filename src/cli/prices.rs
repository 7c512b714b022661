//! The arguments of `sail-export prices` and `prices update`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// Where `prices update` reads Sail's pricing page by default (Sail serves its docs as
/// Markdown too).
pub const DEFAULT_PAGE_URL: &str = "https://docs.sailresearch.com/pricing.md";

/// `sail-export prices`: the price table in force on a day, or `prices update`.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct PricesArgs {
    /// `update`: read Sail's pricing page into the prices folder.
    #[command(subcommand)]
    pub action: Option<PricesAction>,
    /// Show the prices in force on this UTC day (YYYY-MM-DD; default: today).
    #[arg(long, value_name = "DATE")]
    pub at: Option<String>,
    /// A price file (TOML) over the bundled prices and the prices folder, as with `cost --prices`.
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// What `prices` does besides showing the table.
#[derive(Debug, Clone, Subcommand)]
pub enum PricesAction {
    /// Read Sail's pricing page, save it as today's price file in the prices folder
    /// (SAIL_EXPORT_PRICES_DIR, default: ~/.config/sail-export/prices) and print what changed
    /// against the prices in force. A page that does not parse is exit 1, nothing written.
    Update(PricesUpdateArgs),
}

/// `sail-export prices update`.
#[derive(Debug, Clone, Args)]
pub struct PricesUpdateArgs {
    /// The pricing page to read.
    #[arg(long, value_name = "URL", default_value = DEFAULT_PAGE_URL)]
    pub from: String,
    /// Timeout of the request, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,
}
