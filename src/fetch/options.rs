//! What a run was asked to do, as its `runs` row and its Parquet files record it (never the
//! key): one typed struct every command fills the same way, written and read back through
//! serde, old exports' JSON included.

use serde::{Deserialize, Serialize};

use super::Config;
use crate::api::Client;

/// The subcommand a run belongs to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunCommand {
    /// `fetch` (and `demo`, whose export is a fetch), and any run recorded before the key
    /// was written.
    #[default]
    Fetch,
    /// One batch of a `sync`.
    Sync,
}

/// The options of a run, as stored in `runs.options_json` and the Parquet files' metadata
/// (`sail_export.run`). The caller sets what only it knows ([`Config::options`]: the
/// command, the manifest, ...); the rest is filled in from the [`Config`] and the client
/// when the run starts, so the record and the run cannot disagree.
///
/// Every field has a default, so the JSON of exports made before this struct (whose keys
/// are a subset of these) reads back: a run without `demo` is not a demo's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunOptions {
    /// The subcommand.
    pub command: RunCommand,
    /// A run of `sail-export demo`, against the simulated API: the demo replaces only an
    /// output whose every run is one.
    pub demo: bool,
    /// The demo's seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// `--manifest`, as given.
    pub manifest: Option<String>,
    /// The output format's name.
    pub format: String,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// `--refetch-all`.
    pub refetch_all: bool,
    /// `--retry-not-found`.
    pub retry_not_found: bool,
    /// `--shard K/N`.
    pub shard: Option<String>,
    /// Bodies kept in `raw_json` (no `--no-raw`).
    pub raw: bool,
    /// `--wait`.
    pub wait: bool,
    /// Seconds between status polls with `--wait`.
    pub poll_interval_s: Option<f64>,
    /// The API base URL (never the key).
    pub base_url: String,
    /// Retries per request for retryable failures.
    pub max_retries: u32,
    /// Per-request timeout in seconds.
    pub timeout_s: f64,
    /// CA certificates trusted besides the usual ones (`--ca-cert`).
    pub ca_certs: usize,
    /// `--http1-only`.
    pub http1_only: bool,
    /// `--allow-insecure-http`.
    pub allow_insecure_http: bool,
}

impl RunOptions {
    /// The options recorded in `json`, or `None` when it is not a JSON object of them (a
    /// runs table of someone else's, say).
    pub fn read(json: &str) -> Option<RunOptions> {
        serde_json::from_str(json).ok()
    }

    /// The JSON object stored.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("options serialise")
    }
}

impl Config {
    /// The options of this run as recorded: what the caller set in [`Config::options`], with
    /// what the config and the client hold filled in.
    pub(super) fn run_options(&self, client: &Client) -> RunOptions {
        let api = client.config();
        RunOptions {
            format: self.output.format().name().to_owned(),
            concurrency: self.concurrency,
            refetch_all: self.refetch_all,
            retry_not_found: self.retry_not_found,
            shard: self.shard.map(|s| s.to_string()),
            raw: self.keep_raw,
            wait: self.wait.is_some(),
            poll_interval_s: self.wait.map(|d| d.as_secs_f64()),
            base_url: api.base_url.clone(),
            max_retries: api.max_retries,
            timeout_s: api.timeout.as_secs_f64(),
            ca_certs: api.ca_certs.len(),
            http1_only: api.http1_only,
            ..self.options.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_of_earlier_exports_reads_back() {
        let demo = r#"{"demo":true,"seed":42,"format":"sqlite","concurrency":32,"base_url":"http://127.0.0.1:1/v1"}"#;
        let fetch = r#"{"manifest":null,"format":"parquet","concurrency":64,"max_retries":6,"timeout_s":60.0,"refetch_all":false,"retry_not_found":false,"shard":null,"raw":true,"wait":false,"poll_interval_s":null,"base_url":"https://x/v1","ca_certs":0,"http1_only":false,"allow_insecure_http":false}"#;
        let sync = r#"{"command":"sync","format":"sqlite","concurrency":64,"raw":true,"retry_not_found":false,"base_url":"https://x/v1"}"#;
        let demo = RunOptions::read(demo).unwrap();
        assert!(demo.demo);
        assert_eq!((demo.seed, demo.concurrency), (Some(42), 32));
        let fetch = RunOptions::read(fetch).unwrap();
        assert!(!fetch.demo);
        assert_eq!(fetch.command, RunCommand::Fetch);
        assert_eq!(fetch.format, "parquet");
        let sync = RunOptions::read(sync).unwrap();
        assert_eq!((sync.command, sync.demo), (RunCommand::Sync, false));
        assert!(RunOptions::read("{}").is_some_and(|o| !o.demo));
        assert!(RunOptions::read("not json").is_none());
        assert!(RunOptions::read(r#"{"demo":"yes"}"#).is_none());
    }

    #[test]
    fn options_round_trip_through_their_json() {
        let opts = RunOptions {
            command: RunCommand::Sync,
            demo: true,
            seed: Some(7),
            shard: Some("1/4".into()),
            poll_interval_s: Some(5.0),
            ..RunOptions::default()
        };
        let json = opts.to_json();
        assert!(json.contains(r#""command":"sync""#), "{json}");
        assert!(json.contains(r#""demo":true"#), "{json}");
        assert_eq!(RunOptions::read(&json), Some(opts));
    }
}
