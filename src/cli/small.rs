//! The arguments of the subcommands with a few flags each: `load`, `status`, `list`,
//! `completions`.

use std::path::PathBuf;

use clap::Args;

use super::args::ApiArgs;

/// `sail-export completions`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `sail-export load`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// The Parquet exports to load: files, folders of them, or datasets (a folder or an
    /// s3://, gs://, az:// prefix).
    #[arg(required = true, value_name = "PARQUET")]
    pub files: Vec<PathBuf>,
    /// The SQLite file to load into (created and migrated if needed).
    #[arg(short = 'o', long = "out", alias = "into", value_name = "DB.sqlite")]
    pub out: PathBuf,
    /// When another sail-export is writing the same SQLite file, wait for it to end instead
    /// of exiting with code 2.
    #[arg(long)]
    pub wait_for_lock: bool,
    /// Load into an existing SQLite file even though sail-export did not make it (our tables,
    /// views and index are added beside its own, and it is switched to WAL mode).
    #[arg(long)]
    pub allow_foreign_db: bool,
}

/// `sail-export status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// The batch id.
    pub batch_id: String,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `sail-export list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Stop after this many batches.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Print a JSON array on stdout.
    #[arg(long)]
    pub json: bool,
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}
