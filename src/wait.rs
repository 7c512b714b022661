//! `fetch --wait`: a task that polls the batch status and hands ids to the fetch pipeline
//! as they become terminal, so no item is requested before the batch says it is done.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};
use indicatif::ProgressBar;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};

use crate::api::model::Batch;
use crate::api::{Client, Outcome};
use crate::ids::IdList;
use crate::row::{FetchState, Row};
use crate::summary::Summary;

/// Status polls that may fail in a row before waiting is given up.
const MAX_FAILED_POLLS: u32 = 5;

/// What the poller starts from.
pub(crate) struct Waiter {
    /// The API.
    pub client: Client,
    /// The batch.
    pub batch_id: String,
    /// Time between status polls.
    pub interval: Duration,
    /// Ids to fetch first (terminal or unknown to the batch).
    pub ready: IdList,
    /// Ids not finished yet: id → the batch's status string.
    pub waiting: HashMap<String, String>,
    /// Ids already fetched before this run.
    pub fetched: u64,
    /// Ids already settled otherwise before the requests start (final `not_found` rows
    /// kept from earlier runs, manifest ids not in the batch).
    pub settled: u64,
    /// Ids in the run.
    pub total: u64,
    /// The progress bar (hidden when stderr is not a terminal).
    pub bar: ProgressBar,
    /// Print one progress line per poll on stderr (when there is no bar).
    pub lines: bool,
}

/// The pipeline's side of a running poller.
pub(crate) struct Feed {
    /// Ids to fetch: the ready ones, then each waiting one as the batch reports it
    /// terminal; ends when every id is settled or waiting was given up.
    pub ids: BoxStream<'static, String>,
    /// Where to report each written row.
    pub poller: Poller,
}

/// A handle on the poller task.
pub(crate) struct Poller {
    done: UnboundedSender<(String, FetchState)>,
    task: JoinHandle<()>,
    /// Ids this run last wrote `pending`: the only ones that can be written again.
    pending: HashSet<String>,
}

impl Poller {
    /// Tells the poller how `row`'s id ended (a `pending` one is polled again), and keeps
    /// `summary` at one count per id: an id written `pending` and later `fetched` counts once.
    pub(crate) fn record(&mut self, row: &Row, summary: &mut Summary) {
        if self.pending.remove(&row.custom_id) {
            uncount(summary, FetchState::Pending);
        }
        if row.fetch_state == FetchState::Pending {
            self.pending.insert(row.custom_id.clone());
        }
        let _ = self.done.send((row.custom_id.clone(), row.fetch_state));
    }

    /// Stops polling (the run is over or was stopped).
    pub(crate) fn stop(self) {
        self.task.abort();
    }
}

/// Starts the poller on the current runtime. The `waiting` ids are taken to be written
/// `pending` already.
pub(crate) fn start(mut w: Waiter) -> Feed {
    let (ids_tx, mut released) = unbounded_channel();
    let (done, done_rx) = unbounded_channel();
    let pending = w.waiting.keys().cloned().collect();
    let ready = std::mem::take(&mut w.ready);
    let outstanding = ready.len();
    let task = tokio::spawn(run(w, outstanding, ids_tx, done_rx));
    let ids = stream::iter(ready)
        .chain(stream::poll_fn(move |cx| released.poll_recv(cx)))
        .boxed();
    Feed {
        ids,
        poller: Poller {
            done,
            task,
            pending,
        },
    }
}

/// Takes back one count of `state` (its id is being written again).
fn uncount(summary: &mut Summary, state: FetchState) {
    let n = match state {
        FetchState::Fetched => &mut summary.fetched,
        FetchState::Pending => &mut summary.pending,
        FetchState::NotFound => &mut summary.not_found,
        FetchState::Error => &mut summary.error,
    };
    *n = n.saturating_sub(1);
}

/// Bookkeeping of the poller.
struct State {
    waiting: HashMap<String, String>,
    /// Ids handed to the pipeline whose row has not been reported yet.
    in_flight: usize,
    fetched: u64,
    /// Ids that ended in another state (not_found, error).
    finished: u64,
    /// Ids written pending on the last pass: still running, no longer polled for.
    stuck: u64,
    total: u64,
    /// No more status polls: pending results stay pending.
    last_pass: bool,
    bar: ProgressBar,
}

impl State {
    fn hand_out(&mut self, id: String, tx: &UnboundedSender<String>) {
        self.in_flight += 1;
        let _ = tx.send(id);
    }

    fn settle(&mut self, (id, state): (String, FetchState)) {
        self.in_flight = self.in_flight.saturating_sub(1);
        match state {
            FetchState::Pending if !self.last_pass => {
                self.waiting.insert(id, "a pending result".to_owned());
            }
            FetchState::Pending => self.stuck += 1,
            FetchState::Fetched => self.fetched += 1,
            _ => self.finished += 1,
        }
        self.bar.set_prefix(format!("{} ", self.line()));
    }

    /// Hands out every waiting id the batch now reports terminal, or no longer lists.
    fn release(&mut self, batch: &Batch, tx: &UnboundedSender<String>) {
        let unfinished = batch.unfinished();
        let mut ready = Vec::new();
        for (id, last) in self.waiting.iter_mut() {
            match unfinished.get(id.as_str()) {
                Some(s) => (*s).clone_into(last),
                None => ready.push(id.clone()),
            }
        }
        for id in ready {
            self.waiting.remove(&id);
            self.hand_out(id, tx);
        }
    }

    /// The progress line. Its four counts add up to the total: each id is fetched, ended
    /// otherwise (not_found, error), running (waiting for the batch), or still to fetch
    /// (handed out or about to be).
    fn line(&self) -> String {
        let running = self.waiting.len() as u64 + self.stuck;
        format!(
            "{} fetched · {} not_found/error · {running} running · {} to fetch",
            self.fetched,
            self.finished,
            self.total
                .saturating_sub(self.fetched + self.finished + running)
        )
    }
}

/// The poller: `ready` ids are on their way already; poll every `interval` and hand out
/// waiting ids as they finish, until nothing waits.
async fn run(
    w: Waiter,
    ready: usize,
    tx: UnboundedSender<String>,
    mut done: UnboundedReceiver<(String, FetchState)>,
) {
    let mut st = State {
        waiting: w.waiting,
        in_flight: ready,
        fetched: w.fetched,
        finished: w.settled,
        stuck: 0,
        total: w.total,
        last_pass: false,
        bar: w.bar,
    };
    let mut polls = Polls::default();
    loop {
        if st.waiting.is_empty() || st.last_pass {
            // Nothing to poll for: let the in-flight ids settle (a pending one comes back).
            while st.in_flight > 0 {
                match done.recv().await {
                    Some(d) => st.settle(d),
                    None => return,
                }
            }
            if st.waiting.is_empty() || st.last_pass {
                return;
            }
        }
        if !st
            .settle_until(Instant::now() + w.interval, &mut done)
            .await
        {
            return;
        }
        let outcome = w.client.batch(&w.batch_id).await.outcome;
        if !polls.take(outcome, &w.batch_id, &mut st, &tx) {
            return;
        }
        let line = st.line();
        if w.lines {
            eprintln!("poll {}: {line}", polls.count);
        }
        st.bar.set_prefix(format!("{line} "));
    }
}

impl State {
    /// Settles rows as they are reported until `deadline`; `false` when the pipeline is gone.
    async fn settle_until(
        &mut self,
        deadline: Instant,
        done: &mut UnboundedReceiver<(String, FetchState)>,
    ) -> bool {
        loop {
            tokio::select! {
                _ = sleep_until(deadline) => return true,
                d = done.recv() => match d {
                    Some(d) => self.settle(d),
                    None => return false,
                },
            }
        }
    }
}

/// The count of status polls, and of failed ones in a row.
#[derive(Default)]
struct Polls {
    count: u64,
    failed_in_a_row: u32,
}

impl Polls {
    /// Acts on one poll's outcome: release the finished ids; on 404 fetch every waiting id
    /// once and stop; after [`MAX_FAILED_POLLS`] failures in a row stop waiting. `false`
    /// when the poller should end now (the key was rejected: the pipeline sees it too).
    fn take(
        &mut self,
        outcome: Outcome<Batch>,
        batch_id: &str,
        st: &mut State,
        tx: &UnboundedSender<String>,
    ) -> bool {
        self.count += 1;
        match outcome {
            Outcome::Ok { value, .. } => {
                self.failed_in_a_row = 0;
                st.release(&value, tx);
            }
            Outcome::NotFound { .. } => {
                eprintln!(
                    "warning: batch '{batch_id}' is no longer found (Sail deletes batch data \
                     within 48 hours); fetching the {} ids still waiting once, then stopping",
                    st.waiting.len()
                );
                for id in std::mem::take(&mut st.waiting).into_keys() {
                    st.hand_out(id, tx);
                }
                st.last_pass = true;
            }
            Outcome::Failed { reason } => {
                self.failed_in_a_row += 1;
                eprintln!(
                    "warning: status poll {} of batch '{batch_id}' failed: {reason}",
                    self.count
                );
                if self.failed_in_a_row >= MAX_FAILED_POLLS {
                    eprintln!(
                        "warning: {} status polls in a row failed; no longer waiting \
                         ({} ids stay pending; rerun with --wait to resume)",
                        self.failed_in_a_row,
                        st.waiting.len()
                    );
                    st.last_pass = true;
                }
            }
            Outcome::AuthRejected | Outcome::Skipped => return false,
        }
        true
    }
}
