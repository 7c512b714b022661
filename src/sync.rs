//! The sync engine: every batch of the account (or those created since a moment) into one
//! output, oldest first (they are the nearest to Sail's deletion), skipping each batch the
//! output already holds complete without a request (`sink::Output::completed`); a
//! [`Report`] out, one [`Line`] per batch.
//!
//! The exit code depends on the state reached, never on what an earlier run did
//! ([`Report::exit_code`]): 0 every listed batch complete; 4 every one complete but some
//! with losses (results gone for good: final `not_found`); 3 some batch still unfinished or
//! failing (an error of its own, its status unreadable say, on every run); a stop's own
//! code. When every batch tried failed before any request (the output is busy, say), or the
//! key is rejected or the API unreachable, that error is the outcome ([`Synced::failed`]).

use std::future::Future;

use serde::Serialize;
use tokio::sync::watch;

use crate::api::model::Batch;
use crate::api::{self, Client};
use crate::fetch;
use crate::sink::Completed;
use crate::summary::{self, Stop, Summary};
use crate::time::utc_text;

/// A sync, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// Only batches created at or after this Unix time (and those without a date).
    pub created_from: Option<i64>,
    /// The fetch of each batch, into the one output: its batch id is set per batch; its ids
    /// are the batch's.
    pub fetch: fetch::Config,
}

/// Where one batch stands after the sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Complete in the output before the sync: nothing requested.
    AlreadyComplete,
    /// Complete now.
    Complete,
    /// Pending or failed ids left for the next run.
    Incomplete,
    /// Its fetch ended with an error.
    Error,
}

/// What happened to one batch.
#[derive(Debug, Serialize)]
pub struct Line {
    /// The batch.
    pub batch_id: String,
    /// When it was created, as people read it.
    pub created_at_utc: Option<String>,
    /// Where it stands.
    pub state: State,
    /// Ids of a complete batch that are gone for good (final `not_found`): its losses.
    pub lost: u64,
    /// HTTP requests made for this batch (its status reads included).
    pub requests: u64,
    /// The summary of its fetch, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// The error that ended its fetch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The whole run, as `--json` prints it.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// The output.
    pub out: String,
    /// Batches listed.
    pub batches: usize,
    /// Lines per state.
    pub already_complete: usize,
    pub complete: usize,
    pub incomplete: usize,
    pub errors: usize,
    /// Complete batches (now or already) with losses, and their ids gone for good.
    pub with_losses: usize,
    pub lost: u64,
    /// HTTP requests made, listing aside.
    pub requests: u64,
    /// One per batch tried, oldest first.
    pub lines: Vec<Line>,
}

impl Report {
    fn tally(&mut self, line: Line) {
        self.requests += line.requests;
        if line.lost > 0 {
            self.with_losses += 1;
            self.lost += line.lost;
        }
        match line.state {
            State::AlreadyComplete => self.already_complete += 1,
            State::Complete => self.complete += 1,
            State::Incomplete => self.incomplete += 1,
            State::Error => self.errors += 1,
        }
        self.lines.push(line);
    }

    /// The exit code: `stopped`'s own, else 3 when some batch is not complete, 4 when all are
    /// but some with losses, 0 (the rule of `summary::exit_code`).
    pub fn exit_code(&self, stopped: Option<Stop>) -> i32 {
        let unsettled = self.incomplete + self.errors > 0;
        summary::exit_code(stopped, unsettled, self.with_losses > 0)
    }
}

/// How a sync ended.
#[derive(Debug)]
pub struct Synced {
    /// Every batch tried.
    pub report: Report,
    /// Why it stopped before the last batch, if it did.
    pub stopped: Option<Stop>,
    /// The error that is the outcome: a rejected key or an unreachable API, or the first
    /// error when every batch tried failed before any request.
    pub failed: Option<anyhow::Error>,
}

/// A sync ready to run: what the output holds complete, and the batches to go through.
pub struct Ready {
    cfg: Config,
    done: Completed,
    batches: Vec<Batch>,
}

/// Reads what the output holds complete (an output that cannot be read is a usage error)
/// and lists the batches, oldest first, undated ones last.
pub async fn prepare(client: &Client, cfg: Config) -> anyhow::Result<Ready> {
    let output = cfg.fetch.output.clone();
    let done = fetch::blocking(move || output.completed())?;
    let mut batches = api::list_all(client, None).await?;
    if let Some(from) = cfg.created_from {
        batches.retain(|b| b.created_at.is_none_or(|c| c >= from));
    }
    batches.sort_by_key(|b| (b.created_at.is_none(), b.created_at));
    Ok(Ready { cfg, done, batches })
}

impl Ready {
    /// Syncs each batch in turn, telling `each` of every line as it is made; `stop` ends the
    /// sync at the next batch (the batch in progress stops as a fetch does).
    pub async fn run(
        self,
        client: &Client,
        stop: impl Future<Output = Stop> + Send + 'static,
        each: &mut dyn FnMut(&Line),
    ) -> anyhow::Result<Synced> {
        let (tx, rx) = watch::channel(None::<Stop>);
        let watcher = tokio::spawn(async move {
            let why = stop.await;
            let _ = tx.send(Some(why));
        });
        let mut synced = Synced {
            report: Report {
                out: self.cfg.fetch.output.show(),
                batches: self.batches.len(),
                ..Report::default()
            },
            stopped: None,
            failed: None,
        };
        let mut first_error = None;
        for b in &self.batches {
            let Some(id) = b.id.clone() else { continue };
            if let Some(why) = *rx.borrow() {
                synced.stopped = Some(why);
                return Ok(synced);
            }
            let (line, error) = self.one(client, b, id, &rx).await?;
            each(&line);
            let stop_here = line.summary.as_ref().and_then(|s| s.stopped);
            synced.report.tally(line);
            if let Some(why) = stop_here {
                synced.stopped = Some(why);
                return Ok(synced);
            }
            if let Some(e) = error {
                first_error.get_or_insert(e);
                // A rejected key or an API that never answers is not this batch's problem:
                // the next batches would fail alike.
                if client.halted() {
                    break;
                }
            }
        }
        watcher.abort();
        synced.failed = first_error.filter(|_| failed(&synced.report, client.halted()));
        Ok(synced)
    }

    /// Syncs one batch: nothing when the output holds it complete, else its fetch. The
    /// error is the fetch's, when it ended with one.
    async fn one(
        &self,
        client: &Client,
        b: &Batch,
        id: String,
        stop: &watch::Receiver<Option<Stop>>,
    ) -> anyhow::Result<(Line, Option<anyhow::Error>)> {
        let mut line = Line {
            created_at_utc: b.created_at.map(utc_text),
            state: State::AlreadyComplete,
            lost: 0,
            requests: 0,
            summary: None,
            error: None,
            batch_id: id,
        };
        let retry_lost = self.cfg.fetch.retry_not_found;
        let total = b.total_requests();
        let done = &self.done;
        if let Some(lost) = fetch::blocking(|| done.has(&line.batch_id, total, retry_lost))? {
            line.lost = lost;
            return Ok((line, None));
        }
        let mut cfg = self.cfg.fetch.clone();
        cfg.batch_id = line.batch_id.clone();
        let before = client.requests();
        let result = fetch::run(client, cfg, stopped(stop.clone())).await;
        line.requests = client.requests() - before;
        match result {
            Ok(s) => {
                let complete = s.stopped.is_none() && s.settled();
                line.state = match complete {
                    true => State::Complete,
                    false => State::Incomplete,
                };
                line.lost = if complete { s.lost } else { 0 };
                line.summary = Some(s);
                Ok((line, None))
            }
            Err(e) => {
                line.state = State::Error;
                line.error = Some(format!("{e:#}"));
                Ok((line, Some(e)))
            }
        }
    }
}

/// Whether the sync's errors are its outcome: a rejected key or an unreachable API
/// (`halted`), or every batch tried failed before any request (a busy output, a bad
/// folder, say). A batch whose own status cannot be read made requests: it is an `error`
/// line, exit 3.
fn failed(report: &Report, halted: bool) -> bool {
    let none_requested = report.lines.iter().all(|l| l.requests == 0);
    report.errors > 0 && (halted || report.complete + report.incomplete == 0 && none_requested)
}

/// Resolves once the sync is told to stop.
async fn stopped(mut rx: watch::Receiver<Option<Stop>>) -> Stop {
    loop {
        if let Some(why) = *rx.borrow_and_update() {
            return why;
        }
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(state: State, lost: u64) -> Line {
        Line {
            batch_id: "b".to_owned(),
            created_at_utc: None,
            state,
            lost,
            requests: 1,
            summary: None,
            error: None,
        }
    }

    /// The states keep the names `--json` has always printed, each counts in its total, and
    /// the exit code follows the state reached: 0, 4 with losses, 3 with anything unsettled,
    /// a stop's own code.
    #[test]
    fn a_report_counts_each_state_and_maps_to_one_exit_code() {
        let mut r = Report::default();
        r.tally(line(State::AlreadyComplete, 0));
        r.tally(line(State::Complete, 0));
        assert_eq!(r.exit_code(None), 0);
        r.tally(line(State::Complete, 2));
        assert_eq!((r.exit_code(None), r.with_losses, r.lost), (4, 1, 2));
        r.tally(line(State::Incomplete, 0));
        assert_eq!(r.exit_code(None), 3);
        r.tally(line(State::Error, 0));
        assert_eq!(r.exit_code(Some(Stop::Terminated)), 143);
        let json = serde_json::to_value(&r).unwrap();
        let states: Vec<&str> = json["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["state"].as_str().unwrap())
            .collect();
        assert_eq!(
            states,
            [
                "already_complete",
                "complete",
                "complete",
                "incomplete",
                "error"
            ]
        );
        let counts = (r.already_complete, r.complete, r.incomplete, r.errors);
        assert_eq!((counts, r.requests), ((1, 2, 1, 1), 5));
    }
}
