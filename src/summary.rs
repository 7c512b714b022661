//! The outcome of a run: counts per fetch state, requests, retries, the pace and time;
//! printed as one line, as JSON, and mapped to the exit code.

use std::fmt;

use serde::Serialize;

use crate::error::exit;
use crate::row::{FetchState, Row};

/// Why a run stopped before the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// The API rejected the key (401/403).
    AuthRejected,
    /// The API could not be reached at all (nothing ever answered).
    Unreachable,
    /// SIGINT / Ctrl-C.
    Interrupted,
    /// SIGTERM.
    Terminated,
    /// The API answered nothing but 429/503 for minutes (`api::pace::PATIENCE`).
    Throttled,
}

impl Stop {
    /// The process exit code of a run stopped for this reason: the one mapping, for `fetch`
    /// and `sync` alike.
    pub(crate) fn exit_code(self) -> i32 {
        match self {
            Stop::AuthRejected | Stop::Unreachable => exit::FATAL,
            Stop::Interrupted => exit::SIGINT,
            Stop::Terminated => exit::SIGTERM,
            Stop::Throttled => exit::INCOMPLETE,
        }
    }
}

/// The exit code of where a run ended, for every command that fetches (one batch, or a
/// sync of many): a stop's own code ([`Stop::exit_code`]); else 3 while something is not
/// settled (pending, failed, an error), 4 when everything is but some results are gone for
/// good (`losses`), 0 when everything is in.
pub(crate) fn exit_code(stopped: Option<Stop>, unsettled: bool, losses: bool) -> i32 {
    match stopped {
        Some(why) => why.exit_code(),
        None if unsettled => exit::INCOMPLETE,
        None if losses => exit::LOSSES,
        None => exit::OK,
    }
}

/// What a fetch run did. `fetched + pending + not_found + error + not_attempted == total`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// The batch.
    pub batch_id: String,
    /// The output path.
    pub out: String,
    /// custom_ids asked for (unique).
    pub total: u64,
    /// Ids in `fetched` state at the end, including those already there before this run.
    pub fetched: u64,
    /// Ids not finished yet.
    pub pending: u64,
    /// Ids the API does not know (404).
    pub not_found: u64,
    /// Among `not_found`, the final ones: gone past Sail's retention, or not in the batch.
    /// No rerun requests them (unless `--retry-not-found`); a run whose other ids are all
    /// fetched is complete with losses.
    pub lost: u64,
    /// Ids given up on.
    pub error: u64,
    /// Ids with no row written by this run (stopped early).
    pub not_attempted: u64,
    /// Rows written by this run with integer fields dropped (a value that was not exactly an
    /// integer in i64 range, stored as NULL and named in the `dropped_fields` column).
    pub dropped_fields: u64,
    /// Ids skipped because the output already had them settled: fetched, or final
    /// `not_found` (counted in `lost`).
    pub skipped: u64,
    /// HTTP requests made, retries included.
    pub requests: u64,
    /// Retries among those requests.
    pub retries: u64,
    /// 429 answers to result requests.
    pub rate_limited: u64,
    /// The lowest number of result requests allowed in flight (the pace; `-j` at most).
    pub concurrency_min: u64,
    /// The number allowed in flight at the end.
    pub concurrency_final: u64,
    /// Wall time in seconds.
    pub elapsed_s: f64,
    /// Set when the run stopped early.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stop>,
    /// Set when a fatal error ended the run: its message (the counts are then what the
    /// output keeps). Not `error`, which counts the ids given up on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fatal_error: Option<String>,
}

impl Summary {
    /// Adds one written row to the counts.
    pub(crate) fn count(&mut self, state: FetchState) {
        match state {
            FetchState::Fetched => self.fetched += 1,
            FetchState::Pending => self.pending += 1,
            FetchState::NotFound => self.not_found += 1,
            FetchState::Error => self.error += 1,
        }
    }

    /// Adds one written row to the counts: its state, and whether fields were dropped.
    pub(crate) fn record(&mut self, row: &Row) {
        self.count(row.fetch_state);
        self.lost += u64::from(row.is_lost());
        self.dropped_fields += u64::from(row.dropped_fields.is_some());
    }

    /// A word for the `runs` table.
    pub(crate) fn outcome(&self) -> &'static str {
        if self.fatal_error.is_some() {
            return "failed";
        }
        match self.stopped {
            Some(Stop::AuthRejected) => "auth_rejected",
            Some(Stop::Unreachable) => "unreachable",
            Some(Stop::Interrupted) => "interrupted",
            Some(Stop::Terminated) => "terminated",
            Some(Stop::Throttled) => "throttled",
            None if self.fetched == self.total => "complete",
            None if self.settled() => "complete_with_losses",
            None => "incomplete",
        }
    }

    /// The process exit code for this outcome.
    pub(crate) fn exit_code(&self) -> i32 {
        if self.fatal_error.is_some() {
            return exit::FATAL;
        }
        exit_code(self.stopped, !self.settled(), self.fetched != self.total)
    }

    /// Whether every id is settled for good: fetched, or a final `not_found` (`lost`).
    pub(crate) fn settled(&self) -> bool {
        self.fetched + self.lost == self.total
    }
}

/// A run a fatal error ended: the error (its message in `summary.fatal_error`) and the
/// summary as the output keeps it, for `--json` and the `runs` row.
#[derive(Debug)]
pub struct RunFailed {
    /// The counts the output keeps, with `fatal_error` set.
    pub summary: Summary,
    /// The error itself, when it says more than the message (a usage error's exit code).
    cause: Option<anyhow::Error>,
}

impl RunFailed {
    /// A run whose writer failed: `summary.fatal_error` says why.
    pub(crate) fn new(summary: Summary) -> RunFailed {
        RunFailed {
            summary,
            cause: None,
        }
    }

    /// `err`, which ended the run at `summary` (before anything was written, say); it stays
    /// the source, so it keeps its exit code.
    pub fn with_cause(mut summary: Summary, err: anyhow::Error) -> anyhow::Error {
        summary.fatal_error = Some(crate::error::describe(&err));
        RunFailed {
            summary,
            cause: Some(err),
        }
        .into()
    }
}

impl fmt::Display for RunFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            self.summary
                .fatal_error
                .as_deref()
                .unwrap_or("the run failed"),
        )
    }
}

impl std::error::Error for RunFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_ref()
            .map(|e| &**e as &(dyn std::error::Error + 'static))
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = if self.elapsed_s > 0.0 {
            (self.total - self.skipped - self.not_attempted) as f64 / self.elapsed_s
        } else {
            0.0
        };
        write!(
            f,
            "{}: {} ids: {} fetched, {} pending, {} not_found, {} error",
            self.batch_id, self.total, self.fetched, self.pending, self.not_found, self.error
        )?;
        if self.lost > 0 {
            write!(f, " ({} of them gone for good)", self.lost)?;
        }
        if self.not_attempted > 0 {
            write!(f, ", {} not attempted", self.not_attempted)?;
        }
        if self.dropped_fields > 0 {
            write!(
                f,
                ", {} with dropped fields (not exact integers, stored as NULL)",
                self.dropped_fields
            )?;
        }
        if self.skipped > 0 {
            write!(f, " ({} already in the output)", self.skipped)?;
        }
        write!(f, "; {} requests, {} retries", self.requests, self.retries)?;
        if self.rate_limited > 0 || self.concurrency_min < self.concurrency_final {
            write!(
                f,
                ", {} rate-limited (in flight: lowest {}, final {})",
                self.rate_limited, self.concurrency_min, self.concurrency_final
            )?;
        }
        write!(
            f,
            ", {:.1}s ({:.0}/s) -> {}",
            self.elapsed_s, rate, self.out
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_outcome() {
        let mut s = Summary {
            total: 2,
            ..Summary::default()
        };
        s.count(FetchState::Fetched);
        s.count(FetchState::Fetched);
        assert_eq!(s.exit_code(), 0);
        s.fetched = 1;
        s.count(FetchState::NotFound);
        assert_eq!(s.exit_code(), 3);
        s.stopped = Some(Stop::AuthRejected);
        assert_eq!(s.exit_code(), 1);
        s.stopped = Some(Stop::Interrupted);
        assert_eq!(s.exit_code(), 130);
        s.stopped = Some(Stop::Terminated);
        assert_eq!(s.exit_code(), 143);
        s.stopped = Some(Stop::Throttled);
        assert_eq!(s.exit_code(), 3);
        s.fatal_error = Some("writing 'x' (committing rows): no space left on device".into());
        assert_eq!((s.exit_code(), s.outcome()), (1, "failed"));
    }

    #[test]
    fn rows_with_dropped_fields_are_counted_and_shown() {
        let mut s = Summary::default();
        let mut row = Row::bare("b", "c", FetchState::Fetched);
        s.record(&row);
        assert!(!s.to_string().contains("dropped"), "{s}");
        row.dropped_fields = Some("usage.input_tokens".into());
        s.record(&row);
        assert_eq!((s.fetched, s.dropped_fields), (2, 1));
        assert!(s.to_string().contains(", 1 with dropped fields"), "{s}");
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["dropped_fields"], 1);
    }
}
