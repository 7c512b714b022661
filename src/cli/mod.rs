//! What the user typed: clap derive, one `Args` struct per subcommand, and clap's enums
//! mapped to the engine's plain ones. No I/O here; clap stops here and in `cmd`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod help;
mod size;

use self::help::{help, top_help, API_ENV, COST_ENV, LOG_ENV};
use self::size::parse_size;
use crate::api::client;
use crate::{cost, fetch, sink};

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
    /// Fetch every result of a batch into SQLite (default) or Parquet.
    #[command(after_help = help(
        &[
            "sail-export fetch batch_abc123",
            "sail-export fetch batch_abc123 -m ids.txt -o results.parquet",
            "sail-export fetch batch_abc123 --wait --json > summary.json",
        ],
        API_ENV,
    ))]
    Fetch(FetchArgs),
    /// Load one or more Parquet exports into a SQLite export (upsert).
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

/// `sail-export completions`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Where the API is and how to authenticate.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// API base URL, including /v1.
    #[arg(long, env = "SAIL_BASE_URL", default_value = client::DEFAULT_BASE_URL)]
    pub base_url: String,
    /// Read the API key from this file instead of the SAIL_API_KEY environment variable.
    #[arg(long, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,
    /// Per-request timeout in seconds.
    #[arg(long, value_name = "SECS", default_value_t = client::DEFAULT_TIMEOUT_S)]
    pub timeout: f64,
    /// Retries per request for 429, 408, 5xx, timeouts, connection errors and bad bodies.
    #[arg(long, value_name = "N", default_value_t = client::DEFAULT_MAX_RETRIES)]
    pub max_retries: u32,
    /// Also trust the CA certificates in this PEM file (a TLS-inspecting proxy's or an
    /// internal CA). The OS store, SSL_CERT_FILE / SSL_CERT_DIR and the bundled web roots are
    /// trusted anyway. Repeat for several files.
    #[arg(long, value_name = "PATH")]
    pub ca_cert: Vec<PathBuf>,
    /// Allow a plain http:// base URL to a host other than this machine (the key would
    /// travel unencrypted).
    #[arg(long)]
    pub allow_insecure_http: bool,
    /// Speak HTTP/1.1 only (by default HTTP/2 is offered over TLS and used if the server
    /// chooses it).
    #[arg(long)]
    pub http1_only: bool,
    /// Once the API has answered, stop the run when nothing but failed connections and
    /// timeouts has come back for this long (e.g. 60s, 5m); a rerun resumes.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub give_up_after: std::time::Duration,
    /// The largest response body taken (e.g. 64MiB, 500KB); a larger one is an error row,
    /// not read further.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub max_body_size: u64,
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
    /// Output file [default: <BATCH_ID>.sqlite, or .parquet with --format parquet]. A path
    /// ending in /, an existing folder or an s3:// (gs://, az://) URL is a dataset.
    #[arg(short = 'o', long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Output format [default: from --out: a dataset for a folder or URL, else the file's
    /// extension, else sqlite].
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Fetch only shard K of N (K from 0 to N-1) of the ids, split by a stable hash of
    /// custom_id, so N processes can export one batch side by side into one dataset.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::shard::Shard>,
    /// Requests in flight at most.
    #[arg(short = 'j', long, value_name = "N", default_value_t = fetch::DEFAULT_CONCURRENCY as u32,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// Request every id again, even those already fetched in the output.
    #[arg(long)]
    pub refetch_all: bool,
    /// Request again the ids the output holds as gone for good (404 past Sail's retention).
    #[arg(long)]
    pub retry_not_found: bool,
    /// Do not store the response body in raw_json.
    #[arg(long)]
    pub no_raw: bool,
    /// Print the final summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Keep polling the batch and fetch items as they finish, until every id is in.
    #[arg(long)]
    pub wait: bool,
    /// Seconds between status polls with --wait.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub poll_interval: f64,
    /// When another sail-export is writing the same output, wait for it to end instead of
    /// exiting with code 2 (this run then resumes from what that one wrote).
    #[arg(long)]
    pub wait_for_lock: bool,
    /// Write into an existing SQLite file even though sail-export did not make it (our tables,
    /// views and index are added beside its own, and it is switched to WAL mode).
    #[arg(long)]
    pub allow_foreign_db: bool,
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Output formats of `fetch --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// A SQLite database (the default).
    Sqlite,
    /// An Apache Parquet file.
    Parquet,
    /// A Hive-partitioned Parquet dataset (a folder or object storage prefix, one
    /// batch_id=… folder per batch).
    Dataset,
}

impl From<OutputFormat> for sink::Format {
    fn from(f: OutputFormat) -> sink::Format {
        match f {
            OutputFormat::Sqlite => sink::Format::Sqlite,
            OutputFormat::Parquet => sink::Format::Parquet,
            OutputFormat::Dataset => sink::Format::Dataset,
        }
    }
}

/// `sail-export load`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Parquet exports written by `sail-export fetch --format parquet`.
    #[arg(required = true, value_name = "FILE.parquet")]
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

/// Report output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// A table for the terminal.
    Table,
    /// One JSON object.
    Json,
    /// CSV, one line per group.
    Csv,
    /// A Markdown table.
    Markdown,
    /// One self-contained HTML page of charts (with -o FILE, or on stdout).
    Html,
}

impl From<ReportFormat> for cost::Format {
    fn from(f: ReportFormat) -> cost::Format {
        match f {
            ReportFormat::Table => cost::Format::Table,
            ReportFormat::Json => cost::Format::Json,
            ReportFormat::Csv => cost::Format::Csv,
            ReportFormat::Markdown => cost::Format::Markdown,
            ReportFormat::Html => cost::Format::Html,
        }
    }
}

/// `sail-export cost`.
#[derive(Debug, Clone, Args)]
pub struct CostArgs {
    /// A SQLite or Parquet export: a file, a folder of them, or a dataset (a folder or an
    /// s3://, gs://, az:// prefix), read in place.
    pub path: PathBuf,
    /// Group by these keys, comma-separated, in order (e.g. --by batch,model).
    ///
    /// Keys:
    ///   model              the response's model             --by model
    ///   completion_window  the window priced in (alias      --by window
    ///                      window; none: the default one)
    ///   batch_id           the batch (alias batch)          --by batch
    ///   status             the response's own status        --by status,model
    ///                      (completed, incomplete, failed)
    ///   day                UTC day of created_at            --by day
    ///                      (YYYY-MM-DD)
    ///   month              UTC month of created_at          --by month,model
    ///                      (YYYY-MM)
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "model,completion_window",
        verbatim_doc_comment
    )]
    pub by: Vec<String>,
    /// A price file (TOML) that overrides and extends the bundled prices.
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Print one JSON object on stdout: short for --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Table: every column, however wide (by default the columns that fit the terminal, or
    /// 80 characters when piped).
    #[arg(long)]
    pub wide: bool,
    /// Only responses created on or after this UTC day (inclusive).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub since: Option<String>,
    /// Only responses created before this UTC day (exclusive: --since 2026-09-01 --until
    /// 2026-10-01 is September).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub until: Option<String>,
    /// Exit non-zero when any request has no price.
    #[arg(long)]
    pub strict: bool,
    /// Instead of the report, write one line per fetched result to -o FILE (.parquet or
    /// .csv): batch_id, custom_id, cost_usd, asap_cost_usd, savings_usd, the prices applied
    /// and where they came from; join it to the export on (batch_id, custom_id).
    #[arg(long, requires = "out")]
    pub rows: bool,
    /// Where --rows writes (.parquet or .csv), or where --format html writes its page.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only rows of this batch.
    #[arg(long, value_name = "ID")]
    pub batch: Option<String>,
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

/// `sail-export sync`.
#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// Where every batch goes: a SQLite file, or a dataset (a folder, or an s3://, gs://,
    /// az:// URL).
    #[arg(
        short = 'o',
        long,
        value_name = "PATH",
        default_value = "sail-export.sqlite"
    )]
    pub out: PathBuf,
    /// Output format [default: from --out, as with fetch].
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Only batches created this recently (e.g. 48h, 3d, 90m); without it, every batch the
    /// API lists.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub since: Option<std::time::Duration>,
    /// Requests in flight at most, per batch.
    #[arg(short = 'j', long, value_name = "N", default_value_t = fetch::DEFAULT_CONCURRENCY as u32,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// Request again the ids the output holds as gone for good (404 past Sail's retention).
    #[arg(long)]
    pub retry_not_found: bool,
    /// Do not store the response body in raw_json.
    #[arg(long)]
    pub no_raw: bool,
    /// Print one JSON object (every batch and the totals) on stdout.
    #[arg(long)]
    pub json: bool,
    /// When another sail-export is writing the output, wait for it instead of exiting 2.
    #[arg(long)]
    pub wait_for_lock: bool,
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// A duration as people write it: `90m`, `48h`, `3d`, `1w`, `1h30m`.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("'{s}' is not a duration like 48h, 3d or 90m ({e})"))
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

/// `sail-export demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Items in the simulated batch.
    #[arg(long, value_name = "N", default_value_t = 3000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub requests: u64,
    /// Output file (SQLite). A previous demo output there is replaced; any other file is
    /// left alone and the demo refuses to start.
    #[arg(short = 'o', long, value_name = "PATH", default_value = "demo.sqlite")]
    pub out: PathBuf,
    /// Seed of the simulated data: the same seed serves the same batch.
    #[arg(long, value_name = "N", default_value_t = 42)]
    pub seed: u64,
    /// Requests in flight at most (the simulator rate-limits above 48).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// After the export, keep the simulated API up on 127.0.0.1 until Ctrl-C, to try
    /// `status`, `list` and `fetch --wait` against it.
    #[arg(long)]
    pub serve: bool,
    /// With --serve: the loopback port to serve on (0 picks a free one).
    #[arg(long, value_name = "PORT", default_value_t = 8787, requires = "serve")]
    pub port: u16,
    /// With --serve: the served batches' running and queued items complete one by one within
    /// this many seconds after the export.
    #[arg(long, value_name = "SECS", default_value_t = 120, requires = "serve",
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub finish_in: u64,
}
