//! `sail-export fetch`'s arguments, and the [`fetch::Config`] they resolve to.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::args::{ApiArgs, RunArgs};
use crate::error::UsageError;
use crate::fetch::{self, RunCommand};
use crate::sink::{Existing, Output};

/// `sail-export fetch`.
#[derive(Debug, Clone, Args)]
pub struct FetchArgs {
    /// The batch id, e.g. batch_abc123.
    pub batch_id: String,
    /// custom_ids to fetch: text (one a line), .jsonl (objects with custom_id), .csv (a
    /// custom_id column), or - for stdin. Without it, the ids come from the batch's status.
    #[arg(short = 'm', long, value_name = "PATH")]
    pub manifest: Option<PathBuf>,
    /// Output file [default: <BATCH_ID>.sqlite, or .parquet with --format parquet]. A path
    /// ending in /, an existing folder or an s3:// (gs://, az://) URL is a dataset.
    #[arg(short = 'o', long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Fetch only shard K of N (K from 0 to N-1) of the ids, split by a stable hash of
    /// custom_id, so N processes can export one batch side by side into one dataset.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::shard::Shard>,
    /// How the run fetches and writes.
    #[command(flatten)]
    pub run: RunArgs,
    /// Request every id again, even those already fetched in the output.
    #[arg(long)]
    pub refetch_all: bool,
    /// Print the final summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Keep polling the batch and fetch items as they finish, until every id is in.
    #[arg(long)]
    pub wait: bool,
    /// Seconds between status polls with --wait.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub poll_interval: f64,
    /// Write into an existing SQLite file even though sail-export did not make it (our tables,
    /// views and index are added beside its own, and it is switched to WAL mode).
    #[arg(long)]
    pub allow_foreign_db: bool,
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}

impl FetchArgs {
    /// The fetch these flags ask for, into `out` in `format` (both resolved from `--out` and
    /// `--format`); the manifest's ids are the caller's to read. A `--poll-interval` that is
    /// not a number of seconds above 0 and at most a day is refused here rather than by
    /// clap, so that `--json` still prints the error as JSON.
    pub fn config(&self, output: Output) -> Result<fetch::Config, UsageError> {
        let secs = self.poll_interval;
        if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
            return Err(UsageError::new(format!(
                "--poll-interval must be a number of seconds above 0 and at most 86400, not {secs}"
            )));
        }
        let batch_id = &self.batch_id;
        let mut cfg = (self.run).config(RunCommand::Fetch, batch_id, output, &self.api);
        cfg.refetch_all = self.refetch_all;
        cfg.wait = self.wait.then(|| Duration::from_secs_f64(secs));
        cfg.shard = self.shard;
        if self.allow_foreign_db {
            cfg.existing = Existing::AnyDatabase;
        }
        cfg.options.manifest = self.manifest.as_ref().map(|p| p.display().to_string());
        Ok(cfg)
    }
}
