//! Whether the API is still there: the client's record of HTTP answers and transport
//! failures, and the rules that take the API as unreachable, so a run stops requesting
//! instead of retrying every id against a server that is gone.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::time::utc_text;

/// Failed connection attempts (refused, DNS, TLS, connect timeout) before any HTTP answer at
/// all, after which the API is taken as unreachable (a wrong `--base-url`, no network) and
/// the run stops instead of retrying every id. A connection dropped mid-request never
/// counts here.
const UNREACHABLE_AFTER: u32 = 3;
/// Once something has answered, the API is taken as gone only after this many failed
/// attempts in a row, over at least [`GONE_IDS`] requests, lasting the whole window: one
/// slow request at the end of a run is retried as usual, not taken for a dead server.
const GONE_FAILURES: u32 = 3;
/// See [`GONE_FAILURES`].
const GONE_IDS: u32 = 2;

/// The client's view of the API's health, shared by every request of a run.
pub(super) struct Health {
    /// How long nothing but transport failures may last once the API has answered
    /// (`--give-up-after`).
    window: Duration,
    /// HTTP answers so far (none: the API never answered); a new one ends the current
    /// streak of failures.
    answers: AtomicU64,
    /// When the latest answer arrived, in nanoseconds after `origin`.
    last_answer: AtomicU64,
    origin: Instant,
    /// Connection failures before the first answer.
    unanswered: AtomicU32,
    /// The transport failures since the last answer.
    streak: Mutex<Streak>,
    /// Why the API is taken as unreachable, once it is.
    gone: OnceLock<String>,
}

/// Transport failures with no HTTP answer in between.
#[derive(Default)]
struct Streak {
    /// `answers` when the streak began: it is over once that count moves.
    epoch: u64,
    /// When the first failed attempt of the streak was sent (or the last answer arrived,
    /// if later): the moment the API was last known to answer.
    since: Option<Instant>,
    failures: u32,
    /// Distinct requests (GETs) with a failure in this streak.
    requests: u32,
}

/// One GET's mark: the streak it was last counted in, so a GET failing over and over counts
/// as one request towards [`GONE_IDS`].
#[derive(Default)]
pub(super) struct Mark(Option<u64>);

/// What kind of transport failure an attempt met.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// No connection was made (refused, DNS, connect timeout).
    Connect,
    /// The same on every attempt (an untrusted certificate, HTTPS to a plain-HTTP port):
    /// retrying cannot help.
    Fatal,
    /// Anything else without a status line: a timeout, a connection reset.
    Other,
}

impl Health {
    /// A fresh record; `window` is `--give-up-after`.
    pub(super) fn new(window: Duration) -> Health {
        Health {
            window,
            answers: AtomicU64::new(0),
            last_answer: AtomicU64::new(0),
            origin: Instant::now(),
            unanswered: AtomicU32::new(0),
            streak: Mutex::new(Streak::default()),
            gone: OnceLock::new(),
        }
    }

    /// Why the API is taken as unreachable, if it is.
    pub(super) fn gone(&self) -> Option<&str> {
        self.gone.get().map(String::as_str)
    }

    /// An HTTP answer arrived (whatever its status or body): the API is there.
    pub(super) fn answer(&self) {
        let at = self.origin.elapsed().as_nanos() as u64;
        self.last_answer.fetch_max(at, Ordering::Relaxed);
        self.answers.fetch_add(1, Ordering::Relaxed);
    }

    /// An attempt sent at `sent` got no HTTP answer (`reason` in a few words). The API is
    /// taken as unreachable: at once for a [`Failure::Fatal`]; after
    /// [`UNREACHABLE_AFTER`] connection failures when nothing ever answered; else once the
    /// failures since the last answer span the whole window.
    pub(super) fn failure(&self, kind: Failure, sent: Instant, mark: &mut Mark, reason: &str) {
        if kind == Failure::Fatal {
            let _ = self.gone.set(reason.to_owned());
            return;
        }
        if self.answers.load(Ordering::Relaxed) == 0 {
            if kind == Failure::Connect
                && self.unanswered.fetch_add(1, Ordering::Relaxed) + 1 >= UNREACHABLE_AFTER
            {
                let _ = self.gone.set(reason.to_owned());
            }
            return;
        }
        let Some(since) = self.streak_since(sent, mark) else {
            return;
        };
        let _ = self.gone.set(format!(
            "no answer since {}, {} s ago; the last attempt: {reason}",
            utc_text(unix_of(since)),
            since.elapsed().as_secs()
        ));
    }

    /// Counts one failure in the current streak (starting a new one after an answer);
    /// `Some(start)` when the streak now meets the rule for giving up.
    fn streak_since(&self, sent: Instant, mark: &mut Mark) -> Option<Instant> {
        let epoch = self.answers.load(Ordering::Relaxed);
        let mut s = self.streak.lock().unwrap_or_else(|p| p.into_inner());
        if s.since.is_none() || s.epoch != epoch {
            // The API was there until this attempt was sent, or until the last answer.
            let answered =
                self.origin + Duration::from_nanos(self.last_answer.load(Ordering::Relaxed));
            *s = Streak {
                epoch,
                since: Some(sent.max(answered)),
                failures: 0,
                requests: 0,
            };
        }
        s.failures += 1;
        if mark.0 != Some(epoch) {
            mark.0 = Some(epoch);
            s.requests += 1;
        }
        let since = s.since?;
        (s.failures >= GONE_FAILURES && s.requests >= GONE_IDS && since.elapsed() >= self.window)
            .then_some(since)
    }
}

/// The wall-clock time of an `Instant` in the past, in Unix seconds.
fn unix_of(at: Instant) -> i64 {
    let wall = SystemTime::now() - at.elapsed();
    wall.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(h: &Health, kind: Failure, mark: &mut Mark) {
        h.failure(kind, Instant::now(), mark, "connection failed");
    }

    #[test]
    fn before_any_answer_three_failed_connections_are_enough() {
        let h = Health::new(Duration::from_secs(3600));
        let mut m = Mark::default();
        fail(&h, Failure::Other, &mut m);
        fail(&h, Failure::Connect, &mut m);
        fail(&h, Failure::Connect, &mut m);
        assert_eq!(h.gone(), None);
        fail(&h, Failure::Connect, &mut m);
        assert_eq!(h.gone(), Some("connection failed"));
    }

    #[test]
    fn after_an_answer_it_takes_the_window_and_two_requests_failing() {
        let h = Health::new(Duration::ZERO);
        h.answer();
        let (mut one, mut two) = (Mark::default(), Mark::default());
        for _ in 0..10 {
            fail(&h, Failure::Connect, &mut one);
        }
        assert_eq!(
            h.gone(),
            None,
            "one request failing alone is retried as usual"
        );
        h.answer();
        fail(&h, Failure::Other, &mut two);
        fail(&h, Failure::Other, &mut one);
        assert_eq!(h.gone(), None, "an answer starts the count again");
        fail(&h, Failure::Other, &mut one);
        let why = h.gone().unwrap();
        assert!(
            why.starts_with("no answer since ") && why.ends_with("connection failed"),
            "{why}"
        );

        let h = Health::new(Duration::from_secs(3600));
        h.answer();
        for _ in 0..10 {
            fail(&h, Failure::Connect, &mut Mark::default());
        }
        assert_eq!(h.gone(), None, "within the window");
        fail(&h, Failure::Fatal, &mut one);
        assert!(
            h.gone().is_some(),
            "the same failure on every attempt stops at once"
        );
    }
}
