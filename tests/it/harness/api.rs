//! `TestApi`: a wiremock server on port 0 scripted like Sail's API, with the answers the
//! tests keep needing (a batch's status, its results with a usage body, errors with Sail's
//! JSON error body, refusals with `Retry-After`) mounted in one line each.

use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{json, Value};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::{base, completed, know_every_batch, serve_results};

/// A mock Sail API. It derefs to its [`MockServer`], so every harness function taking a
/// `&MockServer` takes a `&TestApi` too.
pub struct TestApi(MockServer);

impl Deref for TestApi {
    type Target = MockServer;

    fn deref(&self) -> &MockServer {
        &self.0
    }
}

impl TestApi {
    /// A server on a free port with nothing mounted: every request is a 404.
    pub async fn start() -> TestApi {
        TestApi(MockServer::start().await)
    }

    /// The base URL (with /v1) to pass as `--base-url`.
    pub fn base(&self) -> String {
        base(&self.0)
    }

    /// `GET p` (the exact path) answers `answer`: a [`ResponseTemplate`] or any responder.
    pub async fn get(&self, p: impl Into<String>, answer: impl Respond + 'static) -> &Self {
        let p: String = p.into();
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(answer)
            .mount(&self.0)
            .await;
        self
    }

    /// `GET` of every path matching the regular expression `re` answers `answer`.
    pub async fn get_matching(&self, re: &str, answer: impl Respond + 'static) -> &Self {
        Mock::given(method("GET"))
            .and(path_regex(re))
            .respond_with(answer)
            .mount(&self.0)
            .await;
        self
    }

    /// Every `GET`, whatever its path, answers `answer`.
    pub async fn get_any(&self, answer: impl Respond + 'static) -> &Self {
        Mock::given(method("GET"))
            .respond_with(answer)
            .mount(&self.0)
            .await;
        self
    }

    /// `GET /v1/batches/{batch}` (the batch's status) answers 200 with `body`.
    pub async fn batch(&self, batch: &str, body: Value) -> &Self {
        self.get(format!("/v1/batches/{batch}"), ok(body)).await
    }

    /// `GET /v1/batches` (the list) answers 200 with `body`.
    pub async fn list(&self, body: Value) -> &Self {
        self.get("/v1/batches", ok(body)).await
    }

    /// `GET /v1/batches/{batch}/{id}` answers `answer` (id already URL-encoded).
    pub async fn result(&self, batch: &str, id: &str, answer: impl Respond + 'static) -> &Self {
        self.get(format!("/v1/batches/{batch}/{id}"), answer).await
    }

    /// Each of `ids` in `batch` answers 200 with a small completed response (3 input
    /// tokens, 2 output), to requests carrying the test key.
    pub async fn completed(&self, batch: &str, ids: &[impl AsRef<str>]) -> &Self {
        let items: Vec<(&str, Value)> = ids
            .iter()
            .map(|id| (id.as_ref(), completed(id.as_ref(), 3, 0, 2, 0)))
            .collect();
        serve_results(&self.0, batch, &items).await;
        self
    }

    /// `GET p` answers the n-th request with the n-th of `steps`, then the last one for
    /// ever; returns when each request arrived.
    pub async fn sequence(&self, p: impl Into<String>, steps: Vec<ResponseTemplate>) -> Arrivals {
        assert!(!steps.is_empty(), "a sequence needs one answer at least");
        let seen = Arrivals::default();
        let answer = Sequence {
            steps,
            seen: seen.clone(),
        };
        self.get(p, answer).await;
        seen
    }

    /// Every batch's status answers 200 with no `request_status` ([`know_every_batch`]).
    pub async fn knows_every_batch(&self) -> &Self {
        know_every_batch(&self.0).await;
        self
    }
}

/// When each request to a [`TestApi::sequence`] arrived, in order.
pub type Arrivals = Arc<Mutex<Vec<Instant>>>;

/// The responder of [`TestApi::sequence`].
struct Sequence {
    steps: Vec<ResponseTemplate>,
    seen: Arrivals,
}

impl Respond for Sequence {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let mut seen = self.seen.lock().unwrap();
        seen.push(Instant::now());
        self.steps[(seen.len() - 1).min(self.steps.len() - 1)].clone()
    }
}

/// A 200 answer with the JSON `body`.
pub fn ok(body: impl serde::Serialize) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// A 200 answer with the completed response for `id` and this usage ([`completed`]).
pub fn usage(id: &str, input: i64, cached: i64, output: i64, reasoning: i64) -> ResponseTemplate {
    ok(completed(id, input, cached, output, reasoning))
}

/// A `status` answer with Sail's JSON error body: `{"error": {"message", "type"}}`.
pub fn api_error(status: u16, message: &str, kind: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"error": {"message": message, "type": kind}}))
}

/// A refusal: `status` (429 or 503) with `Retry-After: retry_after`.
pub fn refused(status: u16, retry_after: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).insert_header("retry-after", retry_after)
}

/// A bare `status` answer with no body.
pub fn status(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status)
}
