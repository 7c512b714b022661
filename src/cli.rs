//! What the user typed: clap derive, one `Args` struct per subcommand. No I/O here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::sink::Format;

/// Export Sail Research batch results to SQLite or Parquet and see what they cost.
#[derive(Debug, Parser)]
#[command(name = "sail-export", version, about, propagate_version = true)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch every result of a batch into SQLite (default) or Parquet.
    Fetch(FetchArgs),
}

/// Where the API is and how to authenticate.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// API base URL, including /v1.
    #[arg(
        long,
        env = "SAIL_BASE_URL",
        default_value = "https://api.sailresearch.com/v1"
    )]
    pub base_url: String,
    /// Read the API key from this file instead of the SAIL_API_KEY environment variable.
    #[arg(long, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,
    /// Per-request timeout in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub timeout: f64,
    /// Retries per request for 429, 408, 5xx, timeouts, connection errors and bad bodies.
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub max_retries: u32,
}

/// `sail-export fetch`.
#[derive(Debug, Clone, Args)]
pub struct FetchArgs {
    /// The batch id, e.g. batch_abc123.
    pub batch_id: String,
    /// custom_ids to fetch: text (one a line), .jsonl (objects with custom_id), .csv (a
    /// custom_id column), or - for stdin. Without it, the ids come from the batch's status.
    #[arg(short = 'm', long, value_name = "PATH")]
    pub manifest: Option<PathBuf>,
    /// Output file [default: <BATCH_ID>.sqlite, or .parquet with --format parquet].
    #[arg(short = 'o', long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Output format [default: from the extension of --out, else sqlite].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Requests in flight at most.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// Request every id again, even those already fetched in the output.
    #[arg(long)]
    pub refetch_all: bool,
    /// Do not store the response body in raw_json.
    #[arg(long)]
    pub no_raw: bool,
    /// Print the final summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}
