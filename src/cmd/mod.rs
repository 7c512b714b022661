//! Runs each subcommand: resolves its arguments into what the engine needs, runs it, and
//! returns the exit code.

use std::sync::atomic::{AtomicBool, Ordering};

/// `-q`, set once by [`run`] before any subcommand prints.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Whether `-q` was given: notes stay off stderr.
pub(crate) fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Prints a note on stderr (a summary, what was done, what to do next) unless `-q` was
/// given. Results, warnings and errors are printed with their own macros, whatever `-q`.
/// Defined before the `mod` lines below, so every subcommand's module sees it.
macro_rules! note {
    ($($arg:tt)*) => {
        if !$crate::cmd::quiet() {
            eprintln!($($arg)*);
        }
    };
}

mod completions;
pub mod cost;
pub(crate) mod demo;
pub(crate) mod fetch;
pub(crate) mod list;
pub(crate) mod load;
pub(crate) mod prices;
pub mod reconcile;
pub(crate) mod status;
pub(crate) mod sync;

use std::path::{Path, PathBuf};

use anyhow::Context;

use rustls::pki_types::CertificateDer;

use crate::api::tls::parse_ca_pem;
use crate::api::{Client, ClientConfig};
use crate::cli::{ApiArgs, Cli, Command, KeyArgs, ReportFormat};
use crate::error::{describe, exit_code, UsageError};
use crate::summary::RunFailed;

/// Runs the parsed command line; the `Ok` value is the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    QUIET.store(cli.verbosity.quiet, Ordering::Relaxed);
    let json = wants_json(&cli.command);
    let ran = match cli.command {
        Command::Fetch(args) => fetch::run(args).await,
        Command::Load(args) => load::run(args).await,
        Command::Cost(args) => cost::run(args),
        Command::Prices(args) => prices::run(args).await,
        Command::Sync(args) => sync::run(args).await,
        Command::Status(args) => status::run(args).await,
        Command::List(args) => list::run(args).await,
        Command::Reconcile(args) => reconcile::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Completions(args) => completions::run(args),
    };
    if let (true, Err(err)) = (json, &ran) {
        crate::out::line(&failure_json(err).to_string())?;
    }
    ran
}

/// Whether the command prints JSON on stdout (`--json`, or `cost --format json`) and leaves
/// the JSON of an error that ends it to [`run`]. `sync` prints its own report, errors
/// included.
fn wants_json(command: &Command) -> bool {
    match command {
        Command::Fetch(a) => a.json,
        Command::Cost(a) => a.json || a.format == ReportFormat::Json,
        Command::Status(a) => a.json,
        Command::List(a) => a.json,
        Command::Reconcile(a) => a.json,
        Command::Prices(a) => a.json && a.action.is_none(),
        Command::Sync(_) | Command::Load(_) | Command::Demo(_) | Command::Completions(_) => false,
    }
}

/// The JSON object a command run with `--json` prints on stdout when an error ends it (the
/// message goes to stderr as always): `fatal_error`, `exit_code`, and when the run had begun
/// writing, its summary with the counts the output keeps.
pub(crate) fn failure_json(err: &anyhow::Error) -> serde_json::Value {
    let obj = match err.downcast_ref::<RunFailed>() {
        Some(failed) => serde_json::to_value(&failed.summary).unwrap_or_default(),
        None => serde_json::json!({}),
    };
    with_failure(obj, err)
}

/// `obj` (a command's JSON report) with the error that ended the command: `fatal_error`
/// and `exit_code`.
pub(crate) fn with_failure(mut obj: serde_json::Value, err: &anyhow::Error) -> serde_json::Value {
    obj["fatal_error"] = describe(err).into();
    obj["exit_code"] = exit_code(err).into();
    obj
}

/// The API key: from `--api-key-file` when given, else `SAIL_API_KEY`. Never printed.
pub(crate) fn api_key(file: Option<&Path>) -> anyhow::Result<String> {
    let key = match file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            UsageError::new(format!(
                "cannot read --api-key-file '{}': {e}",
                path.display()
            ))
        })?,
        None => std::env::var("SAIL_API_KEY").unwrap_or_default(),
    };
    let key = key.trim().to_owned();
    if key.is_empty() {
        let from = match file {
            Some(p) => format!("--api-key-file '{}' is empty", p.display()),
            None => "SAIL_API_KEY is not set".to_owned(),
        };
        return Err(UsageError::new(format!(
            "no API key: {from}; set SAIL_API_KEY or pass --api-key-file PATH"
        ))
        .into());
    }
    Ok(key)
}

/// Builds the client from the shared API flags.
pub(crate) fn client(api: &ApiArgs, pool: usize) -> anyhow::Result<Client> {
    let mut cfg = client_config(&api.key, &api.base_url, "--base-url / SAIL_BASE_URL")?;
    cfg.pool_size = pool;
    cfg.http1_only = api.http1_only;
    cfg.give_up_after = api.give_up_after;
    cfg.max_body_size = api.max_body_size;
    tracing::info!(
        base_url = api.base_url,
        timeout_s = api.key.timeout,
        max_retries = api.key.max_retries,
        "API client"
    );
    Client::new(cfg).context("setting up the API client")
}

/// A client's settings for `url` (named `flag` in errors) from the key flags every API
/// command shares: the timeout and the URL checked (usage errors, exit 2; plain http only to
/// this machine unless allowed), the key read, the CA files loaded.
pub(crate) fn client_config(key: &KeyArgs, url: &str, flag: &str) -> anyhow::Result<ClientConfig> {
    if !(key.timeout.is_finite() && key.timeout > 0.0) {
        return Err(UsageError::new(format!(
            "--timeout must be a positive number of seconds, not {}",
            key.timeout
        ))
        .into());
    }
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| UsageError::new(format!("{flag} '{url}' is not a URL: {e}")))?;
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(&parsed) || key.allow_insecure_http => {}
        "http" => {
            return Err(UsageError::new(format!(
                "{flag} '{url}' is plain http to another machine: the API key would travel \
                 unencrypted; use https, or pass --allow-insecure-http"
            ))
            .into())
        }
        _ => return Err(UsageError::new(format!("{flag} '{url}' must be http or https")).into()),
    }
    let mut cfg = ClientConfig::new(url, &api_key(key.api_key_file.as_deref())?);
    cfg.timeout = std::time::Duration::from_secs_f64(key.timeout);
    cfg.max_retries = key.max_retries;
    cfg.ca_certs = ca_certs(&key.ca_cert)?;
    Ok(cfg)
}

/// Whether the URL's host is this machine: `localhost`, 127.0.0.0/8 or `::1`.
pub(crate) fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.trim_end_matches('.').eq_ignore_ascii_case("localhost"),
    }
}

/// The certificates of every `--ca-cert` file; an unreadable or bad file is a usage error.
pub(crate) fn ca_certs(paths: &[PathBuf]) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let mut certs = Vec::new();
    for path in paths {
        let bad = |why: String| UsageError::new(format!("--ca-cert '{}': {why}", path.display()));
        let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        certs.extend(parse_ca_pem(&pem).map_err(bad)?);
    }
    Ok(certs)
}
