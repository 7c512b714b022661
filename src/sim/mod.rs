//! A simulated Sail Batch API on loopback, for the demo, the benchmarks and tests.
//!
//! It serves the three read routes of the real API (`GET /v1/batches`, `/v1/batches/{id}`,
//! `/v1/batches/{id}/{custom_id}`) and the usage API's two (`/v1/usage`, `/v1/usage/breakdown`,
//! billed from the same items, `usage`) over real HTTP (axum) on `127.0.0.1`, port 0, with Bearer
//! auth, from synthetic data generated per item from a seed (`data`). Knobs add latency,
//! faults (429 with `Retry-After`, 5xx, dropped connections, slow answers) and a concurrency
//! limit beyond which it answers 429, as a real rate limiter does (`server`). With
//! [`SimConfig::tls`] it serves HTTPS instead, HTTP/2 and HTTP/1.1 by ALPN, with a throwaway
//! CA made at start-up ([`SimHandle::ca_pem`], `tls`).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use sail_export::sim::{Sim, SimConfig};
//! let sim = Sim::start(SimConfig::new(1000)).await?;
//! println!("{} serves {}", sim.base_url(), sim.batch_id());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

pub(crate) mod content;
pub(crate) mod data;
pub mod pricing;
pub(crate) mod server;
pub(crate) mod tls;
pub(crate) mod usage;

use std::fmt::Debug;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::serve::{Listener, ListenerExt};
use axum::Router;
use rustls::pki_types::CertificateDer;
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use data::{Dataset, ItemKind};
pub use usage::Billing;

/// The demo's API key: public on purpose; it opens nothing but the simulator.
pub const DEMO_KEY: &str = "sk_demo_public_simulator_key";

/// Probabilities (0..=1) that one request is answered with a fault instead of its result.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// 429 with `Retry-After` (an org-wide rate limit).
    pub rate_429: f64,
    /// 500, 502 or 503 (503 with `Retry-After`).
    pub rate_5xx: f64,
    /// The connection is cut halfway through the body.
    pub rate_drop: f64,
    /// The answer comes `slow` later than usual.
    pub rate_slow: f64,
    /// Extra delay of a slow answer.
    pub slow: Duration,
    /// The `Retry-After` value sent with 429 and 503, in whole seconds.
    pub retry_after_s: u32,
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seed of the synthetic data (same seed and epoch, same bytes).
    pub seed: u64,
    /// Items in each batch.
    pub items: u64,
    /// Batches in the account (the first is the main one; older ones exist for `list`).
    pub batches: usize,
    /// `created_at` of the main batch, unix seconds.
    pub epoch: i64,
    /// The only key accepted as `Authorization: Bearer <key>`.
    pub api_key: String,
    /// Mean time before each answer.
    pub latency: Duration,
    /// Each answer's latency is uniform in `latency ± jitter`.
    pub jitter: Duration,
    /// Fault rates.
    pub faults: Faults,
    /// Requests served at once at most; beyond it, 429 with `Retry-After` at once.
    pub max_concurrent: Option<usize>,
    /// Within this long of the start, running and queued items complete one by one, each at
    /// its own moment drawn from the seed (for `fetch --wait`); `None`: they never do, unless
    /// `SimHandle::finish_within` says so later.
    pub finish_after: Option<Duration>,
    /// The port on `127.0.0.1`; 0 picks a free one.
    pub port: u16,
    /// Compress answers with gzip when the request's `Accept-Encoding` allows it.
    pub gzip: bool,
    /// Serve HTTPS (HTTP/2 or HTTP/1.1, as the client's ALPN asks) with a certificate for
    /// `localhost` and `127.0.0.1` signed by a CA made at start-up; clients must trust
    /// [`SimHandle::ca_pem`] / [`SimHandle::ca_cert`].
    pub tls: bool,
    /// What the usage endpoints bill (`usage`): by default exactly the finished items served,
    /// at the bundled prices.
    pub billing: Billing,
}

impl SimConfig {
    /// `items` items in each of three batches, seed 42, the demo key, no latency, no faults,
    /// no limit, any free port. The epoch is two hours ago, rounded down to the hour.
    pub fn new(items: u64) -> SimConfig {
        let now = crate::time::now_unix();
        SimConfig {
            seed: 42,
            items,
            batches: 3,
            epoch: now - now % 3600 - 7200,
            api_key: DEMO_KEY.to_owned(),
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            faults: Faults::default(),
            max_concurrent: None,
            finish_after: None,
            port: 0,
            gzip: false,
            tls: false,
            billing: Billing::default(),
        }
    }

    /// The demo's setting: 5 ± 3 ms per answer, a rate limit at 48 requests in flight, and a
    /// few of every fault, so retries show in the summary.
    pub(crate) fn demo(items: u64, seed: u64) -> SimConfig {
        SimConfig {
            seed,
            latency: Duration::from_millis(5),
            jitter: Duration::from_millis(3),
            faults: Faults {
                rate_429: 0.01,
                rate_5xx: 0.01,
                rate_drop: 0.005,
                rate_slow: 0.002,
                slow: Duration::from_millis(1500),
                retry_after_s: 1,
            },
            max_concurrent: Some(48),
            ..SimConfig::new(items)
        }
    }
}

/// Counters of what the simulator answered.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    requests: AtomicU64,
    ok: AtomicU64,
    not_found: AtomicU64,
    unauthorized: AtomicU64,
    limited: AtomicU64,
    fault_429: AtomicU64,
    fault_5xx: AtomicU64,
    dropped: AtomicU64,
    slow: AtomicU64,
    max_in_flight: AtomicU64,
    answer_us: AtomicU64,
    http2: AtomicU64,
    result_requests: AtomicU64,
    tls_rejected: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// Requests received.
    pub requests: u64,
    /// 200 answers (dropped ones included: their headers said 200).
    pub ok: u64,
    /// 404 answers.
    pub not_found: u64,
    /// 401 answers.
    pub unauthorized: u64,
    /// 429 answers of the concurrency limiter.
    pub limited: u64,
    /// 429 answers injected as faults.
    pub fault_429: u64,
    /// 5xx answers injected as faults.
    pub fault_5xx: u64,
    /// Connections cut mid-body.
    pub dropped: u64,
    /// Answers delayed as slow.
    pub slow: u64,
    /// The most requests served at once.
    pub max_in_flight: u64,
    /// Microseconds from receiving a request to its answer being ready, summed over every
    /// answer past the limiter (latency, timer granularity and generation included).
    pub answer_us: u64,
    /// Requests that came over HTTP/2.
    pub http2: u64,
    /// Requests for one result (`GET /batches/{id}/{custom_id}`) past the limiter.
    pub result_requests: u64,
    /// TLS handshakes that failed (e.g. the client did not trust the CA).
    pub tls_rejected: u64,
}

impl StatsSnapshot {
    /// Mean time to answer a request past the limiter, in seconds.
    pub fn mean_answer_s(&self) -> f64 {
        let answered = self.requests - self.unauthorized - self.limited;
        self.answer_us as f64 / 1e6 / answered.max(1) as f64
    }
}

impl Stats {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            requests: get(&self.requests),
            ok: get(&self.ok),
            not_found: get(&self.not_found),
            unauthorized: get(&self.unauthorized),
            limited: get(&self.limited),
            fault_429: get(&self.fault_429),
            fault_5xx: get(&self.fault_5xx),
            dropped: get(&self.dropped),
            slow: get(&self.slow),
            max_in_flight: get(&self.max_in_flight),
            answer_us: get(&self.answer_us),
            http2: get(&self.http2),
            result_requests: get(&self.result_requests),
            tls_rejected: get(&self.tls_rejected),
        }
    }
}

/// Entry point: `Sim::start(config)`.
pub struct Sim;

impl Sim {
    /// Binds `127.0.0.1:{port}` and serves until the handle is shut down or dropped. Must be
    /// called inside a tokio runtime. A bind failure keeps its `std::io::Error` in the chain.
    pub async fn start(cfg: SimConfig) -> anyhow::Result<SimHandle> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, cfg.port))
            .await
            .with_context(|| format!("binding the simulator to 127.0.0.1:{}", cfg.port))?;
        let addr = listener.local_addr()?;
        let pki = cfg.tls.then(tls::Pki::new).transpose()?;
        let data = Dataset::new(cfg.seed, cfg.items, cfg.batches, cfg.epoch);
        let state = Arc::new(server::State::new(cfg, data, Instant::now()));
        let (tx, rx) = oneshot::channel::<()>();
        let app = server::router(state.clone());
        let stop = async {
            let _ = rx.await;
        };
        let task = match &pki {
            Some(pki) => serve(
                tls::TlsListener::new(listener, pki, state.clone())?,
                app,
                stop,
            ),
            // Without TCP_NODELAY, small answers can wait for delayed ACKs (tens of ms).
            None => serve(
                listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                }),
                app,
                stop,
            ),
        };
        Ok(SimHandle {
            addr,
            state,
            pki,
            stop: Some(tx),
            task: Some(task),
        })
    }
}

/// Serves `app` on `listener` in a task until `stop`, then lets requests in flight finish.
fn serve<L>(
    listener: L,
    app: Router,
    stop: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<()>
where
    L: Listener,
    L::Addr: Debug,
{
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await;
    })
}

/// A running simulator. Dropping it stops the server too.
pub struct SimHandle {
    addr: SocketAddr,
    state: Arc<server::State>,
    pki: Option<tls::Pki>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// The API base URL, including `/v1`, e.g. `http://127.0.0.1:40123/v1` (`https://` with
    /// [`SimConfig::tls`]).
    pub fn base_url(&self) -> String {
        let scheme = if self.pki.is_some() { "https" } else { "http" };
        format!("{scheme}://{}/v1", self.addr)
    }

    /// The simulated pricing page, e.g. `http://127.0.0.1:40123/pricing.md`.
    pub fn pricing_url(&self) -> String {
        let api = self.base_url();
        format!("{}/pricing.md", api.trim_end_matches("/v1"))
    }

    /// The CA that signed the server's certificate, PEM (`--ca-cert`); `None` without TLS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.pki.as_ref().map(|p| p.ca_pem.as_str())
    }

    /// The same CA, DER (for [`ClientConfig::ca_certs`](crate::api::ClientConfig::ca_certs)).
    pub fn ca_cert(&self) -> Option<CertificateDer<'static>> {
        self.pki.as_ref().map(|p| p.ca_der.clone())
    }

    /// The id of the main batch.
    pub fn batch_id(&self) -> &str {
        self.state.data.main_batch()
    }

    /// The synthetic data served.
    pub fn dataset(&self) -> &Dataset {
        &self.state.data
    }

    /// What was answered so far.
    pub fn stats(&self) -> StatsSnapshot {
        self.state.stats.snapshot()
    }

    /// From now on, running and queued items complete one by one within `span`, each at its
    /// own moment drawn from the seed (this replaces `finish_after`): `demo --serve` calls it
    /// after its export, so `fetch --wait` has items to wait for.
    pub fn finish_within(&self, span: Duration) {
        self.state.finish_within(span);
    }

    /// Stops accepting, lets requests in flight finish (at most 5 s), and returns.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
