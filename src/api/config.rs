//! What the client needs to know, with every default in one place: the base URL, timeout
//! and retries the command line starts from, backoff bounds, when to give up on an API that
//! is gone, the body cap, the pool and TLS settings.

use std::time::Duration;

use rustls::pki_types::CertificateDer;

/// The API every command talks to unless told otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.sailresearch.com/v1";
/// Per-request timeout unless told otherwise, in seconds.
pub const DEFAULT_TIMEOUT_S: f64 = 60.0;
/// Retries per request unless told otherwise.
pub const DEFAULT_MAX_RETRIES: u32 = 6;
/// How long a run goes on once nothing answers but failed connections and timeouts, unless
/// told otherwise (`--give-up-after`).
pub const DEFAULT_GIVE_UP_AFTER: Duration = Duration::from_secs(60);
pub use super::body::DEFAULT_MAX_BODY_SIZE;

/// What the client needs to know; built from the command line by the caller.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL including `/v1`, e.g. `https://api.sailresearch.com/v1`.
    pub base_url: String,
    /// The API key. Only ever placed in a sensitive `Authorization` header.
    pub api_key: String,
    /// Per-request timeout (connect + headers + body).
    pub timeout: Duration,
    /// Retries after the first attempt, for retryable failures.
    pub max_retries: u32,
    /// First backoff delay; doubles each retry, with full jitter.
    pub min_backoff: Duration,
    /// Longest backoff delay.
    pub max_backoff: Duration,
    /// Longest wait a server's `Retry-After` can impose.
    pub retry_after_cap: Duration,
    /// Once the API has answered, how long only transport failures (refused connections,
    /// timeouts) may last before the API is taken as gone and the run stops requesting.
    pub give_up_after: Duration,
    /// The largest body taken, in bytes (after decoding); a larger one is not read further.
    pub max_body_size: u64,
    /// Ask for gzip-compressed bodies (`Accept-Encoding: gzip`). A gzip body is decoded
    /// either way.
    pub gzip: bool,
    /// Idle connections kept per host (set to the concurrency).
    pub pool_size: usize,
    /// CA certificates trusted besides the bundled web roots and the OS store (`--ca-cert`).
    pub ca_certs: Vec<CertificateDer<'static>>,
    /// Speak HTTP/1.1 only; otherwise HTTP/2 is offered over TLS (ALPN) and used if chosen.
    pub http1_only: bool,
}

impl ClientConfig {
    /// Defaults for everything but the URL and key.
    pub fn new(base_url: &str, api_key: &str) -> ClientConfig {
        ClientConfig {
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
            timeout: Duration::from_secs_f64(DEFAULT_TIMEOUT_S),
            max_retries: DEFAULT_MAX_RETRIES,
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            retry_after_cap: Duration::from_secs(120),
            give_up_after: DEFAULT_GIVE_UP_AFTER,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            gzip: true,
            pool_size: 64,
            ca_certs: Vec::new(),
            http1_only: false,
        }
    }
}
