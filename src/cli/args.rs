//! The option groups several subcommands share, flattened into each (`ApiArgs`, `RunArgs`),
//! the typed values they parse to, and the [`fetch::Config`] they resolve to: one path from
//! flags to a run, whichever command runs it.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::RangedU64ValueParser;
use clap::Args;

use super::size::parse_size;
use crate::api::client;
use crate::fetch::{self, RunCommand, RunOptions};
use crate::sink;

/// How a command reaches an API with the key: what the Batch API's flags ([`ApiArgs`]) and
/// `reconcile`'s usage API share, so their help cannot drift apart.
#[derive(Debug, Clone, Args)]
pub struct KeyArgs {
    /// Read the API key from this file instead of the SAIL_API_KEY environment variable.
    #[arg(long, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,
    /// Per-request timeout in seconds.
    #[arg(long, value_name = "SECS", default_value_t = client::DEFAULT_TIMEOUT_S)]
    pub timeout: f64,
    /// Retries per request after a timeout, a connection error, a cut-off body, or HTTP 408,
    /// 500, 502 or 504 (500: twice at most; a 2xx body that is not the expected JSON: once).
    /// Refusals (429, 503) do not use these up: each request takes 30 of them at most.
    #[arg(long, value_name = "N", default_value_t = client::DEFAULT_MAX_RETRIES)]
    pub max_retries: u32,
    /// Also trust the CA certificates in this PEM file (a TLS-inspecting proxy's or an
    /// internal CA). The OS store, SSL_CERT_FILE / SSL_CERT_DIR and the bundled web roots are
    /// trusted anyway. Repeat for several files.
    #[arg(long, value_name = "PATH")]
    pub ca_cert: Vec<PathBuf>,
    /// Allow a plain http:// URL to a host other than this machine (the key would travel
    /// unencrypted).
    #[arg(long)]
    pub allow_insecure_http: bool,
}

/// Where the Batch API is and how to authenticate.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// API base URL, including /v1.
    #[arg(long, env = "SAIL_BASE_URL", default_value = client::DEFAULT_BASE_URL)]
    pub base_url: String,
    /// The key and the connection.
    #[command(flatten)]
    pub key: KeyArgs,
    /// Speak HTTP/1.1 only (by default HTTP/2 is offered over TLS and used if the server
    /// chooses it).
    #[arg(long)]
    pub http1_only: bool,
    /// Once the API has answered, stop the run when nothing but failed connections and
    /// timeouts has come back for this long (e.g. 60s, 5m); a rerun resumes.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub give_up_after: Duration,
    /// The largest response body taken (e.g. 64MiB, 500KB); a larger one is an error row,
    /// not read further.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub max_body_size: u64,
}

/// How a run fetches and writes (`fetch`, `sync`). `-o` stays with each command: what it
/// names and its default differ.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Output format: sqlite, parquet or dataset [default: from --out: a dataset for a
    /// folder or URL, else the file's extension, else sqlite].
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// `-j`.
    #[command(flatten)]
    pub jobs: Jobs,
    /// Request again the ids the output holds as gone for good (404 past Sail's retention).
    #[arg(long)]
    pub retry_not_found: bool,
    /// Do not store the response body in raw_json.
    #[arg(long)]
    pub no_raw: bool,
    /// When another sail-export is writing the same output, wait for it to end instead of
    /// exiting with code 2 (this run then resumes from what that one wrote).
    #[arg(long)]
    pub wait_for_lock: bool,
}

/// `-j`, the one declaration: `fetch` and `sync` take it through [`RunArgs`]; `demo`
/// flattens it with its own default.
#[derive(Debug, Clone, Args)]
pub struct Jobs {
    /// Requests in flight at most.
    #[arg(short = 'j', long, value_name = "N", default_value_t = fetch::DEFAULT_CONCURRENCY,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=4096))]
    pub concurrency: usize,
}

impl RunArgs {
    /// The fetch of `batch_id` into `out` these flags ask for, its options recorded as
    /// `command`'s.
    /// `format` is the one resolved from `--format` and `out`.
    pub fn config(
        &self,
        command: RunCommand,
        batch_id: &str,
        output: sink::Output,
        api: &ApiArgs,
    ) -> fetch::Config {
        let mut cfg = fetch::Config::new(batch_id, output.path().to_owned());
        cfg.output = output;
        cfg.concurrency = self.jobs.concurrency;
        cfg.retry_not_found = self.retry_not_found;
        cfg.keep_raw = !self.no_raw;
        cfg.wait_for_lock = self.wait_for_lock;
        cfg.options = RunOptions {
            command,
            allow_insecure_http: api.key.allow_insecure_http,
            ..RunOptions::default()
        };
        cfg
    }
}

/// Output formats of `fetch --format` and `sync --format`.
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

/// A duration as people write it: `90m`, `48h`, `3d`, `1w`, `1h30m`.
pub(super) fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("'{s}' is not a duration like 48h, 3d or 90m ({e})"))
}
