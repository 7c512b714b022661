//! The HTTP client: base URL, Bearer auth, per-request timeout, and the loop that sends
//! each GET again as the retry policy (`api::retry`) says, at the pace (`api::pace`) the
//! server allows; 401/403 and an API that is gone (`api::health`) stop everything.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::{HeaderValue, ACCEPT_ENCODING, AUTHORIZATION};
use tokio::sync::Semaphore;

use super::body::{self, Unread};
use super::health::{Failure, Health, Mark};
use super::messages::describe;
use super::model::{self, Batch, ResponseObject};
use super::pace::{Pace, Signal, Ticket, PATIENCE};
use super::retry::{Answer, Policy, Step, MAX_REFUSALS};
use super::tls;

pub use super::config::{
    ClientConfig, DEFAULT_BASE_URL, DEFAULT_GIVE_UP_AFTER, DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S,
};
pub(crate) use super::outcome::{Fetched, Outcome};
pub(crate) use super::retry::retry_after;

/// Everything but RFC 3986's unreserved characters is escaped, so any custom_id stays one
/// path segment: `/`, `?`, `#`, `%` and spaces can never reach another path.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A cheap-to-clone handle on one connection pool and the run's counters.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    cfg: ClientConfig,
    auth: HeaderValue,
    auth_failed: AtomicBool,
    health: Health,
    /// The one permit to read a body past 1 MiB (`api::body`).
    large_body: Semaphore,
    requests: AtomicU64,
    retries: AtomicU64,
}

impl Client {
    /// Builds the client: rustls with ring, trusting the bundled web roots, the OS store and
    /// `cfg.ca_certs` (see `api::tls`); proxies from `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`
    /// and `NO_PROXY` (reqwest reads them).
    pub fn new(cfg: ClientConfig) -> anyhow::Result<Client> {
        tls::install_provider();
        let key = cfg.api_key.trim();
        if key.is_empty() {
            bail!("the API key is empty: set SAIL_API_KEY or pass --api-key-file");
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
            anyhow::anyhow!(
                "the API key contains characters that cannot be sent in an HTTP header; \
                 check SAIL_API_KEY or --api-key-file"
            )
        })?;
        auth.set_sensitive(true);
        let mut builder = reqwest::Client::builder()
            .tls_certs_merge(tls::extra_roots(&cfg.ca_certs))
            // Redirects are followed (10 at most); reqwest drops the Authorization header
            // when one changes the host, the port or the scheme, so the key stays with the
            // API's origin (tested in tests/it/fetch/secrets.rs).
            .redirect(reqwest::redirect::Policy::limited(10))
            .user_agent(concat!("sail-export/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(cfg.pool_size.max(1))
            .tcp_nodelay(true)
            .gzip(true)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(30)));
        if cfg.http1_only {
            builder = builder.http1_only();
        }
        let http = builder.build().context("building the HTTP client")?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                auth,
                auth_failed: AtomicBool::new(false),
                health: Health::new(cfg.give_up_after),
                large_body: Semaphore::new(1),
                requests: AtomicU64::new(0),
                retries: AtomicU64::new(0),
                cfg,
            }),
        })
    }

    /// What the client was built with (the key stays in it: never print it whole).
    pub(crate) fn config(&self) -> &ClientConfig {
        &self.inner.cfg
    }

    /// The base URL in use (no key in it).
    pub(crate) fn base_url(&self) -> &str {
        &self.inner.cfg.base_url
    }

    /// True once any request was answered 401/403: the key is wrong, stop the run.
    pub(crate) fn auth_failed(&self) -> bool {
        self.inner.auth_failed.load(Ordering::Relaxed)
    }

    /// Why the API is taken as unreachable: a few failed connections before any HTTP
    /// answer, or nothing but transport failures for `give_up_after` since the last one
    /// (`api::health`). The client then refuses further requests.
    pub(crate) fn unreachable(&self) -> Option<&str> {
        self.inner.health.gone()
    }

    /// HTTP requests sent so far (all attempts).
    pub(crate) fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Retries scheduled so far.
    pub(crate) fn retries(&self) -> u64 {
        self.inner.retries.load(Ordering::Relaxed)
    }

    /// The URL of one result, or `None` when the id cannot be one path segment (`.`/`..`,
    /// which URL parsers collapse even when percent-encoded).
    pub fn result_url(&self, batch_id: &str, custom_id: &str) -> Option<String> {
        let seg = |s: &str| utf8_percent_encode(s, SEGMENT).to_string();
        let dotty = |s: &str| s.is_empty() || s == "." || s == "..";
        if dotty(batch_id) || dotty(custom_id) {
            return None;
        }
        Some(format!(
            "{}/batches/{}/{}",
            self.inner.cfg.base_url,
            seg(batch_id),
            seg(custom_id)
        ))
    }

    /// `GET /batches/{batch_id}/{custom_id}`: one result, retried per the policy, each attempt
    /// at `pace`. A 2xx whose body is not a response object counts as a retryable failure.
    pub(crate) async fn result(
        &self,
        batch_id: &str,
        custom_id: &str,
        pace: &Pace,
    ) -> Fetched<ResponseObject> {
        let Some(url) = self.result_url(batch_id, custom_id) else {
            return Fetched {
                outcome: Outcome::Failed {
                    reason: format!(
                        "custom_id '{custom_id}' cannot be sent as one URL path segment"
                    ),
                },
                http_status: None,
                attempts: 0,
            };
        };
        let parse = (ResponseObject::parse, "a response object");
        self.get(&url, parse, Some(pace)).await
    }

    /// One attempt through the same path as every result request (client, headers,
    /// timeout, body read whole) and nothing more: no retry, pace, parsing or row. The
    /// size of the body, `None` when none arrived. The benchmark's floor is a loop of
    /// these: what this client's HTTP costs before the tool does anything with a result.
    pub async fn bare_get(&self, url: &str) -> Option<usize> {
        match self.send(url, &mut Mark::default()).await {
            Answer::Full { body, .. } => Some(body.len()),
            Answer::Lost { .. } | Answer::TooLarge { .. } => None,
        }
    }

    /// `GET /batches/{batch_id}`: status and `request_status` map.
    pub(crate) async fn batch(&self, batch_id: &str) -> Fetched<Batch> {
        let url = format!(
            "{}/batches/{}",
            self.inner.cfg.base_url,
            utf8_percent_encode(batch_id, SEGMENT)
        );
        let parse = |body: &[u8]| {
            serde_json::from_slice::<Batch>(body)
                .ok()
                .filter(|b| b.id.is_some())
        };
        self.get(&url, (parse, "a batch"), None).await
    }

    /// `GET /batches?limit=&after_id=`: one page of the batch list (a bare array, or an
    /// OpenAI-style `{"data": [...]}`).
    pub(crate) async fn list_page(
        &self,
        limit: u32,
        after_id: Option<&str>,
    ) -> Fetched<Vec<Batch>> {
        let mut url = format!("{}/batches?limit={limit}", self.inner.cfg.base_url);
        if let Some(after) = after_id {
            url.push_str("&after_id=");
            url.push_str(&utf8_percent_encode(after, SEGMENT).to_string());
        }
        self.get(&url, (model::batch_list, "a list of batches"), None)
            .await
    }

    /// The retry loop shared by every GET. `parse` turns a 2xx body into `T`, or `None` when
    /// the body is not what the `&str` names (retried once). With a `pace`, each attempt
    /// waits for a ticket and reports its answer, and refusals (429/503) are retried on
    /// their own bound, not `--max-retries`; without one they count as retries.
    pub(super) async fn get<T>(
        &self,
        url: &str,
        (parse, what): (impl Fn(&[u8]) -> Option<T>, &str),
        pace: Option<&Pace>,
    ) -> Fetched<T> {
        let mut policy = Policy::new(&self.inner.cfg);
        let (mut attempts, mut http_status) = (0u32, None);
        let mut mark = Mark::default();
        loop {
            if let Some(outcome) = self.refusal(attempts, pace) {
                return Fetched {
                    outcome,
                    http_status,
                    attempts,
                };
            }
            attempts += 1;
            let ticket = match pace {
                Some(p) => Some(p.ticket().await),
                None => None,
            };
            let answer = self.send(url, &mut mark).await;
            http_status = answer.status().or(http_status);
            let step = policy.judge(answer, &parse, what);
            settle(ticket, &step, http_status);
            let delay = match step {
                Step::Done(outcome) => {
                    if matches!(outcome, Outcome::AuthRejected) {
                        self.inner.auth_failed.store(true, Ordering::Relaxed);
                    }
                    return Fetched {
                        outcome,
                        http_status,
                        attempts,
                    };
                }
                Step::Failed {
                    reason,
                    retryable,
                    hint,
                } => policy
                    .delay(retryable && !self.halted(), hint)
                    .ok_or(reason),
                // Without a pace to slow down (status reads, listing), a refusal is an
                // ordinary retryable failure.
                Step::Refused { reason, hint } if pace.is_none() => {
                    policy.delay(!self.halted(), hint).ok_or(reason)
                }
                Step::Refused { reason, hint } => policy
                    .refusal_delay(hint)
                    .ok_or_else(|| format!("{reason}; still refused after {MAX_REFUSALS} tries")),
            };
            let delay = match delay {
                Ok(d) => d,
                Err(reason) => {
                    return Fetched {
                        outcome: Outcome::Failed { reason },
                        http_status,
                        attempts,
                    }
                }
            };
            self.inner.retries.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(url, attempts, ?delay, "retrying");
            tokio::time::sleep(delay).await;
        }
    }

    /// Whether the run was stopped: the key was rejected or the API is unreachable.
    pub(crate) fn halted(&self) -> bool {
        self.auth_failed() || self.unreachable().is_some()
    }

    /// The outcome of a GET the client will not send (again) because the run was stopped,
    /// or the pace gave up on a server that refuses everything: skipped before its first
    /// attempt, else why it stopped.
    fn refusal<T>(&self, attempts: u32, pace: Option<&Pace>) -> Option<Outcome<T>> {
        if pace.is_some_and(Pace::exhausted) {
            return Some(match attempts {
                0 => Outcome::Skipped,
                _ => Outcome::Failed {
                    reason: format!(
                        "the API answered only 429/503 for {} minutes; rerun later",
                        PATIENCE.as_secs() / 60
                    ),
                },
            });
        }
        if !self.halted() {
            return None;
        }
        Some(match self.unreachable() {
            _ if attempts == 0 => Outcome::Skipped,
            Some(why) if !self.auth_failed() => Outcome::Failed {
                reason: why.to_owned(),
            },
            _ => Outcome::AuthRejected,
        })
    }

    /// Sends one attempt and reads its whole body (up to the cap). A transport failure is
    /// reported to the API's health with `mark` (this GET's); any HTTP answer marks the API
    /// as there.
    async fn send(&self, url: &str, mark: &mut Mark) -> Answer {
        let inner = &*self.inner;
        inner.requests.fetch_add(1, Ordering::Relaxed);
        let sent = Instant::now();
        let mut req = inner
            .http
            .get(url)
            .header(AUTHORIZATION, inner.auth.clone())
            .timeout(inner.cfg.timeout);
        if !inner.cfg.gzip {
            req = req.header(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        }
        let resp = match req.send().await {
            Ok(resp) => resp,
            Err(e) => {
                let reason = describe(&e, inner.cfg.timeout);
                let kind =
                    if tls::certificate_problem(&e).is_some() || tls::wrong_scheme(&e).is_some() {
                        Failure::Fatal
                    } else if e.is_connect() {
                        Failure::Connect
                    } else {
                        Failure::Other
                    };
                inner.health.failure(kind, sent, mark, &reason);
                return Answer::Lost {
                    status: None,
                    reason,
                };
            }
        };
        inner.health.answer();
        let status = resp.status().as_u16();
        let hint = retry_after(resp.headers(), SystemTime::now());
        match body::read(resp, inner.cfg.max_body_size, &inner.large_body).await {
            Ok(body) => Answer::Full { status, hint, body },
            Err(Unread::TooLarge(reason)) => Answer::TooLarge {
                status,
                reason: format!("HTTP {status} but {reason}"),
            },
            Err(Unread::Cut(e)) => Answer::Lost {
                status: Some(status),
                reason: format!(
                    "HTTP {status}, body cut off: {}",
                    describe(&e, inner.cfg.timeout)
                ),
            },
        }
    }
}

/// Tells the pace what one attempt's answer said about it.
fn settle<T>(ticket: Option<Ticket<'_>>, step: &Step<T>, status: Option<u16>) {
    let Some(ticket) = ticket else { return };
    let signal = match step {
        Step::Done(Outcome::Ok { .. } | Outcome::NotFound { .. }) => Signal::Served,
        Step::Refused { hint, .. } => Signal::Refused {
            status: status.unwrap_or(429),
            hint: *hint,
        },
        _ => Signal::Neutral,
    };
    ticket.settle(signal);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_ids_stay_in_one_path_segment() {
        let c = Client::new(ClientConfig::new("http://h/v1/", "k")).unwrap();
        assert_eq!(
            c.result_url("batch_1", "a/b?c#d%e f").as_deref(),
            Some("http://h/v1/batches/batch_1/a%2Fb%3Fc%23d%25e%20f")
        );
        assert_eq!(
            c.result_url("b", "ok-id_1").as_deref(),
            Some("http://h/v1/batches/b/ok-id_1")
        );
        assert_eq!(c.result_url("b", ".."), None);
    }
}
