//! The retry policy: what an answer means (done, retry, slow down, give up), and how long
//! to wait before the next attempt (exponential backoff with jitter, `Retry-After` honored).
//! Refusals (429, 503) do not use up `--max-retries`: they have their own bound, and a 2xx
//! body that is not the expected JSON is tried once more at most.

use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use bytes::Bytes;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::body;
use super::client::ClientConfig;
use super::model;
use super::outcome::Outcome;

/// At most this many retries after a 500 (Sail's own SDK does not retry 500 at all).
const MAX_500_RETRIES: u32 = 2;
/// At most this many retries after a whole 2xx body that is not the expected JSON: a
/// server's glitch may pass, but a body that is an HTML page or of the wrong shape will
/// come back the same (`--max-retries` would spend about 50 s on it).
const MAX_BAD_BODY_RETRIES: u32 = 1;
/// Refusals (429, 503) one GET takes before it gives up. They say "too fast", not "this
/// request is broken", so they do not count against `--max-retries`; the pace slows the
/// run down meanwhile. The run as a whole gives up after `pace::PATIENCE` of nothing but
/// refusals.
pub(crate) const MAX_REFUSALS: u32 = 30;

/// What one attempt brought back, before it is judged.
pub(super) enum Answer {
    /// No usable HTTP answer: the request failed, or the body was cut off after `status`.
    Lost {
        /// The status line, when one arrived.
        status: Option<u16>,
        /// Why, in a few words.
        reason: String,
    },
    /// A body over `--max-body-size`, not read further: never retried.
    TooLarge {
        /// The HTTP status.
        status: u16,
        /// What the cap was and how much was seen.
        reason: String,
    },
    /// A whole HTTP answer.
    Full {
        /// The HTTP status.
        status: u16,
        /// The delay asked for by `Retry-After`, if any.
        hint: Option<Duration>,
        /// The body.
        body: Bytes,
    },
}

impl Answer {
    /// The HTTP status, when a response arrived.
    pub(super) fn status(&self) -> Option<u16> {
        match self {
            Answer::Lost { status, .. } => *status,
            Answer::TooLarge { status, .. } | Answer::Full { status, .. } => Some(*status),
        }
    }
}

/// What the policy makes of one answer.
pub(super) enum Step<T> {
    /// The GET is over with this outcome.
    Done(Outcome<T>),
    /// The attempt failed; another may follow if `retryable`, after at least `hint`.
    Failed {
        /// Why, in a few words.
        reason: String,
        /// Whether another attempt may help.
        retryable: bool,
        /// The server's `Retry-After`, which replaces the backoff delay.
        hint: Option<Duration>,
    },
    /// 429 or 503: the server wants fewer requests; retried on its own bound.
    Refused {
        /// Why, in a few words.
        reason: String,
        /// The server's `Retry-After`, capped.
        hint: Option<Duration>,
    },
}

/// The retry state of one GET: its backoff sequences, and the 500s and bad bodies met so
/// far.
pub(super) struct Policy {
    backoff: ExponentialBackoff,
    /// Delays after refusals without `Retry-After`, bounded by [`MAX_REFUSALS`].
    refusal_backoff: ExponentialBackoff,
    retry_after_cap: Duration,
    seen: Seen,
}

/// Answers of one GET that are retried a bounded number of times.
#[derive(Default)]
struct Seen {
    n500: u32,
    bad_bodies: u32,
}

impl Policy {
    /// A fresh policy for one GET, with the client's limits.
    pub(super) fn new(cfg: &ClientConfig) -> Policy {
        let builder = ExponentialBuilder::new()
            .with_min_delay(cfg.min_backoff)
            .with_max_delay(cfg.max_backoff)
            .with_jitter();
        Policy {
            backoff: builder.with_max_times(cfg.max_retries as usize).build(),
            refusal_backoff: builder.with_max_times(MAX_REFUSALS as usize).build(),
            retry_after_cap: cfg.retry_after_cap,
            seen: Seen::default(),
        }
    }

    /// Judges one answer; `parse` turns a 2xx body into `T`, or `None` when it is not
    /// `what` (e.g. "a response object"). A body cut off is retried, one over the cap never;
    /// the hint of a status given up on is dropped; the hint of a refusal is capped.
    pub(super) fn judge<T>(
        &mut self,
        answer: Answer,
        parse: &impl Fn(&[u8]) -> Option<T>,
        what: &str,
    ) -> Step<T> {
        let (status, hint, body) = match answer {
            Answer::Lost { reason, .. } => {
                return Step::Failed {
                    reason,
                    retryable: true,
                    hint: None,
                }
            }
            Answer::TooLarge { reason, .. } => {
                return Step::Failed {
                    reason,
                    retryable: false,
                    hint: None,
                }
            }
            Answer::Full { status, hint, body } => (status, hint, body),
        };
        match classify(status, &body, (parse, what), &mut self.seen) {
            Verdict::Done(value) => Step::Done(Outcome::Ok { value, body }),
            Verdict::Final(outcome) => Step::Done(outcome),
            Verdict::Retry(reason) => Step::Failed {
                reason,
                retryable: true,
                hint,
            },
            Verdict::Refused(reason) => Step::Refused {
                reason,
                hint: hint.map(|h| h.min(self.retry_after_cap)),
            },
            Verdict::GiveUp(reason) => Step::Failed {
                reason,
                retryable: false,
                hint: None,
            },
        }
    }

    /// The wait before the next attempt, or `None` to stop: when the failure is not
    /// `retryable`, or the retries are used up. A `hint` (capped) replaces the backoff delay
    /// but still uses up a retry.
    pub(super) fn delay(&mut self, retryable: bool, hint: Option<Duration>) -> Option<Duration> {
        if !retryable {
            return None;
        }
        let delay = self.backoff.next()?;
        Some(hint.map_or(delay, |h| h.min(self.retry_after_cap)))
    }

    /// The wait after a refusal, or `None` once [`MAX_REFUSALS`] were taken: its
    /// (capped) `hint`, else a backoff of its own. `--max-retries` is left untouched.
    pub(super) fn refusal_delay(&mut self, hint: Option<Duration>) -> Option<Duration> {
        let delay = self.refusal_backoff.next()?;
        Some(hint.unwrap_or(delay))
    }
}

/// What a status and body mean, before the retries left are counted.
enum Verdict<T> {
    Done(T),
    Final(Outcome<T>),
    Retry(String),
    Refused(String),
    GiveUp(String),
}

/// The retry policy, by status: 2xx parsed → done; 404 → not found; 401/403 → stop the run;
/// 429/503 → refused (slow down, retry); 408/502/504 → retry; a 2xx body that is not
/// `what` → retry once; 500 → retry at most twice; any other status → give up at once.
fn classify<T>(
    status: u16,
    body: &[u8],
    (parse, what): (&impl Fn(&[u8]) -> Option<T>, &str),
    seen: &mut Seen,
) -> Verdict<T> {
    let with_message = |what: String| match model::error_message(body) {
        Some(m) => format!("{what}: {m}"),
        None => what,
    };
    match status {
        200..=299 => match parse(body) {
            Some(v) => Verdict::Done(v),
            None => {
                seen.bad_bodies += 1;
                let reason = body::unusable(status, body, what);
                match seen.bad_bodies <= MAX_BAD_BODY_RETRIES {
                    true => Verdict::Retry(reason),
                    false => Verdict::GiveUp(format!("{reason} (the same on a second try)")),
                }
            }
        },
        404 => Verdict::Final(Outcome::NotFound {
            message: model::error_message(body),
        }),
        401 | 403 => Verdict::Final(Outcome::AuthRejected),
        429 | 503 => Verdict::Refused(with_message(format!("HTTP {status}"))),
        408 | 502 | 504 => Verdict::Retry(with_message(format!("HTTP {status}"))),
        500 => {
            seen.n500 += 1;
            let reason = with_message("HTTP 500".to_owned());
            if seen.n500 <= MAX_500_RETRIES {
                Verdict::Retry(reason)
            } else {
                Verdict::GiveUp(reason)
            }
        }
        _ => Verdict::GiveUp(with_message(format!("HTTP {status}"))),
    }
}

/// `Retry-After` as delta-seconds or an HTTP date, relative to `now`.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(text).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&headers("3"), now),
            Some(Duration::from_secs(3))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(
            retry_after(&headers(&date), now),
            Some(Duration::from_secs(7))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(retry_after(&headers(&past), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn statuses_map_to_the_retry_policy() {
        let parse = |b: &[u8]| (b == b"ok").then_some(());
        let parse = (&parse, "ok");
        let mut n = Seen::default();
        assert!(matches!(
            classify(200, b"ok", parse, &mut n),
            Verdict::Done(())
        ));
        assert!(matches!(
            classify(200, b"<html", parse, &mut n),
            Verdict::Retry(_)
        ));
        assert!(matches!(
            classify(200, b"<html", parse, &mut n),
            Verdict::GiveUp(_)
        ));
        assert!(matches!(
            classify(404, b"", parse, &mut n),
            Verdict::Final(Outcome::NotFound { .. })
        ));
        assert!(matches!(
            classify(401, b"", parse, &mut n),
            Verdict::Final(Outcome::AuthRejected)
        ));
        assert!(matches!(
            classify(400, b"", parse, &mut n),
            Verdict::GiveUp(_)
        ));
        for s in [408, 502, 504] {
            assert!(
                matches!(classify(s, b"", parse, &mut n), Verdict::Retry(_)),
                "{s}"
            );
        }
        for s in [429, 503] {
            assert!(
                matches!(classify(s, b"", parse, &mut n), Verdict::Refused(_)),
                "{s}"
            );
        }
        assert!(matches!(
            classify(500, b"", parse, &mut n),
            Verdict::Retry(_)
        ));
        assert!(matches!(
            classify(500, b"", parse, &mut n),
            Verdict::Retry(_)
        ));
        assert!(matches!(
            classify(500, b"", parse, &mut n),
            Verdict::GiveUp(_)
        ));
    }
}
