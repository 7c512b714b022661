//! `sail-export sync`'s arguments, and the [`fetch::Config`] of each batch it fetches.

use std::path::PathBuf;

use clap::Args;

use super::args::{ApiArgs, RunArgs};
use super::moment::MomentParser;
use crate::fetch::{self, RunCommand};
use crate::sink::Output;

/// `sail-export sync`.
#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// Where every batch goes: a SQLite or Parquet file, or a dataset (a folder, or an
    /// s3://, gs://, az:// URL).
    #[arg(
        short = 'o',
        long,
        value_name = "PATH",
        default_value = "sail-export.sqlite"
    )]
    pub out: PathBuf,
    /// Only batches created at or after this: a date (2026-09-01, a UTC day), a date-time
    /// (2026-09-01T12:00:00Z) or a duration (48h, 3d: that long before now); without it,
    /// every batch the API lists.
    #[arg(long, value_name = "WHEN", value_parser = MomentParser)]
    pub since: Option<crate::time::Moment>,
    /// How each batch is fetched and written (one batch at a time).
    #[command(flatten)]
    pub run: RunArgs,
    /// Print one JSON object (every batch and the totals) on stdout.
    #[arg(long)]
    pub json: bool,
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}

impl SyncArgs {
    /// The fetch of one batch: its ids from its status, into the shared output in `format`
    /// (resolved from `--out` and `--format`).
    pub fn config(&self, batch_id: &str, output: Output) -> fetch::Config {
        (self.run).config(RunCommand::Sync, batch_id, output, &self.api)
    }
}
