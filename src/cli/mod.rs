//! What the user typed: clap derive, one `Args` struct per subcommand (a file each for the
//! large ones; the groups they share in `args`), clap's enums mapped to the engine's plain
//! ones, and the [`crate::fetch::Config`] the flags resolve to. No I/O here; clap stops here
//! and in `cmd`.

use clap::{Args, Parser, Subcommand};

mod args;
mod cost;
mod demo;
mod fetch;
mod help;
mod moment;
mod prices;
pub mod reconcile;
mod size;
mod small;
mod sync;

pub use self::args::{ApiArgs, KeyArgs, OutputFormat, RunArgs};
pub use self::cost::{CostArgs, ReportFormat};
pub use self::demo::DemoArgs;
pub use self::fetch::FetchArgs;
use self::help::{help, top_help, API_ENV, COST_ENV, LOG_ENV};
pub use self::prices::{PricesAction, PricesArgs, PricesUpdateArgs, DEFAULT_PAGE_URL};
pub use self::small::{CompletionsArgs, ListArgs, LoadArgs, StatusArgs};
pub use self::sync::SyncArgs;

/// Export Sail Research batch results to SQLite or Parquet and see what they cost.
#[derive(Debug, Parser)]
#[command(name = "sail-export", version, about, propagate_version = true, after_help = top_help())]
pub struct Cli {
    /// How much goes to stderr (every subcommand takes -q / -v).
    #[command(flatten)]
    pub verbosity: Verbosity,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// `-q` / `-v`, accepted before or after the subcommand.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct Verbosity {
    /// Quiet: no progress, summary or notes on stderr; results, warnings and errors still print.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Log more on stderr: -v info, -vv debug (retries), -vvv trace. RUST_LOG, when set,
    /// decides instead.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch every result of a batch into SQLite (default), Parquet or a Parquet dataset.
    #[command(after_help = help(
        &[
            "sail-export fetch batch_abc123",
            "sail-export fetch batch_abc123 -m ids.txt -o results.parquet",
            "sail-export fetch batch_abc123 --wait --json > summary.json",
        ],
        API_ENV,
    ))]
    Fetch(FetchArgs),
    /// Load Parquet exports (files, folders, datasets) into a SQLite export (upsert).
    #[command(after_help = help(
        &[
            "sail-export load results.parquet -o results.sqlite",
            "sail-export load part1.parquet part2.parquet -o all.sqlite",
        ],
        LOG_ENV,
    ))]
    Load(LoadArgs),
    /// Report what an export cost, grouped by model, window, batch, status, day or month.
    #[command(after_help = help(
        &[
            "sail-export cost results.sqlite",
            "sail-export cost results.sqlite --by month --since 2026-09-01 --until 2026-10-01",
            "sail-export cost results.parquet --by model,day --json > cost.json",
        ],
        COST_ENV,
    ))]
    Cost(CostArgs),
    /// Show the prices in force on a day with their sources, or read Sail's pricing page
    /// into a dated price file (`prices update`).
    #[command(after_help = help(&["sail-export prices --at 2026-08-15", "sail-export prices update"], &[("SAIL_EXPORT_PRICES_DIR", "the prices folder `prices update` writes and every command reads (default: ~/.config/sail-export/prices)")]))]
    Prices(PricesArgs),
    /// Compare exports with what Sail billed (its usage API), per UTC day and model.
    Reconcile(reconcile::ReconcileArgs),
    /// Export every batch of the account not already complete in one output, before Sail
    /// deletes it (48 hours): the cron line that never loses a result.
    #[command(after_help = help(
        &[
            "sail-export sync -o results.sqlite",
            "sail-export sync -o results/ --since 3d",
            "sail-export sync -o s3://bucket/sail/ --json > sync.json",
        ],
        API_ENV,
    ))]
    Sync(SyncArgs),
    /// Show where a batch stands: per-status counts of its requests.
    #[command(after_help = help(
        &[
            "sail-export status batch_abc123",
            "sail-export status batch_abc123 --json",
        ],
        API_ENV,
    ))]
    Status(StatusArgs),
    /// List every batch of the account.
    #[command(after_help = help(
        &["sail-export list", "sail-export list --limit 20 --json"],
        API_ENV,
    ))]
    List(ListArgs),
    /// Run the whole tool against a simulated Sail API on loopback: no account needed.
    #[command(after_help = help(
        &[
            "sail-export demo",
            "sail-export demo --requests 100000 -o big.sqlite",
            "sail-export demo --seed 7 && sail-export cost demo.sqlite --by model",
        ],
        LOG_ENV,
    ))]
    Demo(DemoArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell) on stdout.
    #[command(after_help = help(
        &[
            "sail-export completions bash > ~/.local/share/bash-completion/completions/sail-export",
            "sail-export completions zsh > ~/.zfunc/_sail-export",
            "sail-export completions fish > ~/.config/fish/completions/sail-export.fish",
        ],
        &[],
    ))]
    Completions(CompletionsArgs),
}
