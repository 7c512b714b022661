//! The simulator's HTTP side: axum routes shaped like Sail's Batch API (and its usage API), and one middleware
//! that applies, in order, Bearer auth, the concurrency limiter, injected faults and latency;
//! with `SimConfig::gzip`, answers compressed as the client's `Accept-Encoding` allows.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, Query, Request, State as Shared};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode, Version};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::json;
use tower_http::compression::CompressionLayer;

use super::data::{Dataset, ItemKind};
use super::{SimConfig, Stats};

/// How late a tokio sleep ends on average (its 1 ms tick granularity).
const TIMER_SLACK: Duration = Duration::from_millis(1);

/// Everything the handlers share.
pub(crate) struct State {
    /// The knobs.
    pub cfg: SimConfig,
    /// The synthetic account.
    pub data: Dataset,
    /// The counters.
    pub stats: Stats,
    /// Since when, and within how long, running and queued items complete; `None`: never.
    finishing: Mutex<Option<(Instant, Duration)>>,
    in_flight: AtomicUsize,
    auth: String,
}

impl State {
    /// State for a server started at `started`.
    pub(crate) fn new(cfg: SimConfig, data: Dataset, started: Instant) -> State {
        let auth = format!("Bearer {}", cfg.api_key);
        let finishing = Mutex::new(cfg.finish_after.map(|d| (started, d)));
        State {
            cfg,
            data,
            stats: Stats::default(),
            finishing,
            in_flight: AtomicUsize::new(0),
            auth,
        }
    }

    /// From now on, running and queued items complete within `span`.
    pub(crate) fn finish_within(&self, span: Duration) {
        *self
            .finishing
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), span));
    }

    /// How much of the finishing time has passed: 0 before it starts or without it, 1 or
    /// more once every item has completed (`Dataset::kind_at`).
    pub(crate) fn progress(&self) -> f64 {
        match *self
            .finishing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
        {
            None => 0.0,
            Some((_, span)) if span.is_zero() => 1.0,
            Some((from, span)) => from.elapsed().as_secs_f64() / span.as_secs_f64(),
        }
    }
}

/// The routes, behind the gate middleware; anything else is a 404 envelope.
pub(crate) fn router(state: Arc<State>) -> Router {
    let gzip = state.cfg.gzip;
    let app = Router::new()
        .route("/v1/batches", get(list))
        .route("/v1/batches/{batch_id}", get(batch))
        .route("/v1/batches/{batch_id}/{custom_id}", get(result))
        .route("/v1/usage", get(super::usage::summary))
        .route("/v1/usage/breakdown", get(super::usage::breakdown))
        .fallback(|| async { envelope(StatusCode::NOT_FOUND, "not_found_error", "no such route") })
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .route("/pricing.md", get(super::pricing::serve))
        .with_state(state);
    match gzip {
        true => app.layer(CompressionLayer::new().gzip(true)),
        false => app,
    }
}

/// An OpenAI-style error envelope, as Sail sends on every route.
pub(crate) fn envelope(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": null}});
    (status, axum::Json(body)).into_response()
}

fn json_bytes(body: Vec<u8>) -> Response {
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

/// Frees a limiter slot when the request is done, however it ends.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Auth → limiter → faults → latency → the route; then counts the answer.
async fn gate(Shared(st): Shared<Arc<State>>, req: Request, next: Next) -> Response {
    Stats::bump(&st.stats.requests);
    if req.version() == Version::HTTP_2 {
        Stats::bump(&st.stats.http2);
    }
    let _slot = match admit(&st, &req) {
        Ok(slot) => slot,
        Err(refused) => return *refused,
    };
    let _timer = AnswerTimer(&st.stats, Instant::now());
    let mut delay = latency(&st.cfg);
    let fault = roll_fault(&st);
    match fault {
        Fault::Answer(r) => return r,
        Fault::Slow(extra) => delay += extra,
        Fault::CutBody | Fault::None => {}
    }
    if !delay.is_zero() {
        // A tokio timer fires on the first 1 ms tick after its deadline, and the driver
        // wakes up to 1 ms late on top of that: asking for `delay - TIMER_SLACK` makes the
        // mean answer time `delay` (the `answer_us` stat shows it).
        tokio::time::sleep(delay.saturating_sub(TIMER_SLACK)).await;
    }
    let resp = next.run(req).await;
    match resp.status() {
        StatusCode::OK => Stats::bump(&st.stats.ok),
        StatusCode::NOT_FOUND => Stats::bump(&st.stats.not_found),
        _ => {}
    }
    if matches!(fault, Fault::CutBody) {
        Stats::bump(&st.stats.dropped);
        return cut_off(resp).await;
    }
    resp
}

/// The key check and the concurrency limiter: a slot to serve in, or the refusal to send.
fn admit<'a>(st: &'a State, req: &Request) -> Result<Slot<'a>, Box<Response>> {
    let authorized = req
        .headers()
        .get(AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == st.auth.as_bytes());
    if !authorized {
        Stats::bump(&st.stats.unauthorized);
        return Err(Box::new(envelope(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid or missing API key",
        )));
    }
    take_slot(st).ok_or_else(|| {
        Stats::bump(&st.stats.limited);
        Box::new(with_retry_after(
            envelope(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "too many concurrent requests for this organization",
            ),
            st.cfg.faults.retry_after_s,
        ))
    })
}

/// What the fault dice decided for one request.
enum Fault {
    /// Answer this instead of the route (429 or 5xx).
    Answer(Response),
    /// Cut the connection halfway through the body.
    CutBody,
    /// Answer this much later.
    Slow(Duration),
    /// Serve normally.
    None,
}

/// Rolls the configured fault rates for one request.
fn roll_fault(st: &State) -> Fault {
    let f = &st.cfg.faults;
    let roll = fastrand::f64();
    if roll < f.rate_429 {
        Stats::bump(&st.stats.fault_429);
        let r = envelope(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "rate limit reached",
        );
        Fault::Answer(with_retry_after(r, f.retry_after_s))
    } else if roll < f.rate_429 + f.rate_5xx {
        Stats::bump(&st.stats.fault_5xx);
        Fault::Answer(server_error(f.retry_after_s))
    } else if roll < f.rate_429 + f.rate_5xx + f.rate_drop {
        Fault::CutBody
    } else if roll < f.rate_429 + f.rate_5xx + f.rate_drop + f.rate_slow {
        Stats::bump(&st.stats.slow);
        Fault::Slow(f.slow)
    } else {
        Fault::None
    }
}

/// Adds the time from `received` to the answer to `answer_us` when dropped.
struct AnswerTimer<'a>(&'a Stats, Instant);

impl Drop for AnswerTimer<'_> {
    fn drop(&mut self) {
        let us = self.1.elapsed().as_micros() as u64;
        self.0.answer_us.fetch_add(us, Ordering::Relaxed);
    }
}

/// A limiter slot, or `None` when `max_concurrent` requests are in flight already.
fn take_slot(st: &State) -> Option<Slot<'_>> {
    let max = st.cfg.max_concurrent.unwrap_or(usize::MAX);
    let now = st
        .in_flight
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()?
        + 1;
    st.stats
        .max_in_flight
        .fetch_max(now as u64, Ordering::Relaxed);
    Some(Slot(&st.in_flight))
}

/// `latency ± jitter`, uniform.
fn latency(cfg: &SimConfig) -> Duration {
    if cfg.jitter.is_zero() {
        return cfg.latency;
    }
    let j = cfg.jitter.as_secs_f64();
    let d = cfg.latency.as_secs_f64() + j * (2.0 * fastrand::f64() - 1.0);
    Duration::from_secs_f64(d.max(0.0))
}

fn with_retry_after(mut resp: Response, secs: u32) -> Response {
    resp.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(secs));
    resp
}

/// One of 500, 502 or 503 (the last with `Retry-After`, as Sail's capacity errors carry).
fn server_error(retry_after_s: u32) -> Response {
    match fastrand::u32(..5) {
        0 => envelope(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error",
        ),
        1 | 2 => envelope(
            StatusCode::BAD_GATEWAY,
            "server_error",
            "upstream proxy error",
        ),
        _ => with_retry_after(
            envelope(
                StatusCode::SERVICE_UNAVAILABLE,
                "model_capacity_unavailable",
                "no capacity right now; retry later",
            ),
            retry_after_s,
        ),
    }
}

/// The same response, but the connection dies after half the body (the announced
/// `Content-Length` is never reached).
async fn cut_off(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let full = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = full.slice(..full.len() / 2);
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(full.len()));
    let chunks: [Result<bytes::Bytes, std::io::Error>; 2] = [
        Ok(half),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated drop",
        )),
    ];
    Response::from_parts(parts, Body::from_stream(futures::stream::iter(chunks)))
}

/// Query of `GET /batches`.
#[derive(Debug, Deserialize)]
struct ListQuery {
    limit: Option<String>,
    after_id: Option<String>,
    before_id: Option<String>,
}

/// `GET /v1/batches`: a bare array, oldest first, `limit` 1..=200 (default 25); `after_id`
/// gives the batches created after that one, `before_id` those created just before it.
async fn list(Shared(st): Shared<Arc<State>>, Query(q): Query<ListQuery>) -> Response {
    let limit = match q.limit.as_deref().map(str::parse::<usize>) {
        None => 25,
        Some(Ok(n)) if (1..=200).contains(&n) => n,
        Some(_) => {
            return envelope(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "limit must be an integer from 1 to 200",
            )
        }
    };
    let ids: Vec<&str> = st.data.batch_ids().collect();
    let position = |id: &str| ids.iter().position(|b| *b == id);
    let page: &[&str] = match (q.after_id.as_deref(), q.before_id.as_deref()) {
        (Some(a), _) => match position(a) {
            Some(p) => &ids[p + 1..(p + 1 + limit).min(ids.len())],
            None => return unknown_cursor("after_id"),
        },
        (None, Some(b)) => match position(b) {
            Some(p) => &ids[p.saturating_sub(limit)..p],
            None => return unknown_cursor("before_id"),
        },
        (None, None) => &ids[..limit.min(ids.len())],
    };
    let body: Vec<_> = page
        .iter()
        .filter_map(|id| st.data.batch_index(id))
        .map(|b| st.data.batch_summary(b))
        .collect();
    axum::Json(body).into_response()
}

fn unknown_cursor(param: &str) -> Response {
    envelope(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        &format!("{param} is not a batch of this organization"),
    )
}

/// `GET /v1/batches/{id}`: the summary plus `request_status` for every item.
async fn batch(Shared(st): Shared<Arc<State>>, Path(batch_id): Path<String>) -> Response {
    match st.data.batch_index(&batch_id) {
        Some(b) => json_bytes(st.data.batch_status_json(b, st.progress())),
        None => envelope(StatusCode::NOT_FOUND, "not_found_error", "batch not found"),
    }
}

/// `GET /v1/batches/{id}/{custom_id}`: the response object, or 404 for an unknown or
/// expired item.
async fn result(
    Shared(st): Shared<Arc<State>>,
    Path((batch_id, custom_id)): Path<(String, String)>,
) -> Response {
    Stats::bump(&st.stats.result_requests);
    let found = st
        .data
        .batch_index(&batch_id)
        .zip(st.data.item_index(&custom_id));
    let Some((b, i)) = found else {
        return envelope(
            StatusCode::NOT_FOUND,
            "not_found_error",
            "batch or request not found",
        );
    };
    let kind = st.data.kind_at(b, i, st.progress());
    if kind == ItemKind::Expired {
        return envelope(
            StatusCode::NOT_FOUND,
            "not_found_error",
            "batch or request not found",
        );
    }
    json_bytes(st.data.response_json(b, i, kind))
}
