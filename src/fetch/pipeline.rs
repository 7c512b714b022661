//! The concurrent pipeline: ids → bounded in-flight requests → rows → the writer, in the
//! phases of a run: resume and pending rows, the request stream, finishing. The pace
//! (`api::pace`) bounds the requests on the wire by `-j`, or below as the server's 429s and
//! 503s allow; twice as many ids are in progress, so ids waiting out a `Retry-After` or a
//! backoff leave the wire busy.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::stream::{self, BoxStream};
use futures::{FutureExt, StreamExt};
use indicatif::ProgressBar;

use super::plan::{Plan, Work};
use super::writer::{Batcher, Failed, Writer, WriterStopped, FLUSH_EVERY};
use super::{off_runtime, outcome, progress};
use crate::api::pace::{ids_in_progress, Pace};
use crate::api::Client;
use crate::cancel::{self, Cancel};
use crate::ids::{IdList, IdSet};
use crate::row::{FetchState, Row, NOT_IN_BATCH};
use crate::sink::failure::OutputError;
use crate::sink::{RunStart, Sink};
use crate::summary::{RunFailed, Stop, Summary};
use crate::time::now_unix;
use crate::wait::{self, Waiter};

/// Runs the export to completion, or until `stop` resolves or the key is rejected. Every
/// row that was handed to the sink is committed before this returns; once `stop` has
/// resolved (during the requests or during the sink's `finish`), the sink's long work is
/// cancelled, so a Parquet output keeps its previous file and the rows stay in the
/// checkpoint for the next run. Ids not ready get a
/// `pending` row without a request; with `wait` they are fetched once the batch reports
/// them terminal. `before` is what the client had counted when the run began (its status
/// read included), so a client serving several runs (`sync`) reports each run's own.
pub(super) async fn run(
    client: &Client,
    sink: Box<dyn Sink>,
    mut plan: Plan,
    before: Counted,
    stop: impl Future<Output = Stop>,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    // Polled in every phase: after it resolves it stays pending.
    let stop = stop.fuse();
    tokio::pin!(stop);
    let (sink, (already, lost)) = match off_runtime(&mut stop, begin(sink, &plan, client)).await {
        Err(why) => return Ok(super::stopped_before_start(&plan.cfg, why)),
        Ok((sink, begun)) => (sink, begun?),
    };
    let mut summary = Summary {
        batch_id: plan.cfg.batch_id.clone(),
        out: plan.cfg.output.show(),
        total: plan.ids.len() as u64,
        ..Summary::default()
    };
    let work = plan.work(already, lost);
    summary.skipped = work.skipped + work.lost;
    summary.fetched = work.skipped;
    summary.not_found = work.lost;
    summary.lost = work.lost;

    let cancel = Cancel::default();
    let mut writer = Writer::start(sink, cancel.clone(), plan.batch_label());
    let pace = Arc::new(Pace::new(plan.cfg.concurrency));
    let net = Net {
        client,
        pace: &pace,
    };
    // A writer that stopped at a failed commit ends the requests at once; `finish` below
    // returns its error.
    if write_pending(&plan, &work.waiting, &mut writer.rows, &mut summary)
        .await
        .is_ok()
        && write_absent(&plan, &work.absent, &mut writer.rows, &mut summary)
            .await
            .is_ok()
    {
        fetch_all(net, &plan, work, &mut writer.rows, &mut summary, &mut stop).await;
    }

    let written = summary.fetched + summary.pending + summary.not_found + summary.error;
    summary.not_attempted = summary.total - written;
    summary.requests = client.requests() - before.requests;
    summary.retries = client.retries() - before.retries;
    summary.rate_limited = pace.rate_limited();
    summary.concurrency_min = pace.lowest() as u64;
    summary.concurrency_final = pace.limit() as u64;
    summary.elapsed_s = started.elapsed().as_secs_f64();
    if summary.stopped.is_some_and(by_signal) {
        cancel.cancel();
    }
    let finished = writer.finish(summary.clone());
    tokio::pin!(finished);
    let finished = tokio::select! {
        done = &mut finished => done,
        why = &mut stop => {
            summary.stopped = Some(why);
            cancel.cancel();
            finished.await
        }
    };
    match finished {
        Ok(()) => Ok(summary),
        Err(failed) if cancel::is_cancelled(&failed.error) => Ok(summary),
        Err(failed) => Err(failure(&plan, failed)),
    }
}

/// What the output holds fetched already and its final `not_found` ids (none with
/// `--refetch-all`; no final ones with `--retry-not-found`), and the run recorded:
/// reads that can take a while (a large output, a dataset on object storage), to run off the
/// runtime.
fn begin(
    mut sink: Box<dyn Sink>,
    plan: &Plan,
    client: &Client,
) -> impl FnOnce() -> (Box<dyn Sink>, anyhow::Result<(IdSet, IdSet)>) + Send + 'static {
    let (batch_id, refetch_all) = (plan.cfg.batch_id.clone(), plan.cfg.refetch_all);
    let keep_lost = !(refetch_all || plan.cfg.retry_not_found);
    let start = RunStart {
        batch_id: batch_id.clone(),
        started_at: now_unix(),
        options_json: plan.cfg.run_options(client).to_json(),
    };
    let info = plan.batch.clone();
    move || {
        let already = match refetch_all {
            true => Ok(IdSet::default()),
            false => sink.fetched_ids(&batch_id),
        };
        let lost = |ids| match keep_lost {
            true => sink.lost_ids(&batch_id).map(|lost| (ids, lost)),
            false => Ok((ids, IdSet::default())),
        };
        let begun = already
            .and_then(lost)
            .and_then(|ids| sink.begin_run(&start).map(|()| ids))
            .and_then(|ids| match &info {
                Some(info) => sink.record_batch(&batch_id, info).map(|()| ids),
                None => Ok(ids),
            });
        (sink, begun)
    }
}

/// Whether the run was told to stop from outside (SIGINT, SIGTERM).
fn by_signal(why: Stop) -> bool {
    matches!(why, Stop::Interrupted | Stop::Terminated)
}

/// The error of a run whose writer failed: the output error says what is kept for the
/// rerun, and the summary (the counts the output keeps) goes with it.
fn failure(plan: &Plan, failed: Failed) -> anyhow::Error {
    let Failed {
        mut error,
        mut summary,
    } = failed;
    let rows =
        summary.fetched + summary.pending + summary.not_found + summary.error - summary.skipped;
    if let Some(e) = error.downcast_mut::<OutputError>() {
        let whole = e.phase() == "recording the run";
        e.set_kept(plan.cfg.output.kept(rows, whole));
    }
    summary.fatal_error = Some(crate::error::describe(&error));
    RunFailed::new(*summary).into()
}

/// A client's request and retry counts at one moment.
#[derive(Debug, Clone, Copy)]
pub(super) struct Counted {
    pub(super) requests: u64,
    pub(super) retries: u64,
}

impl Counted {
    pub(super) fn now(client: &Client) -> Counted {
        Counted {
            requests: client.requests(),
            retries: client.retries(),
        }
    }
}

/// Writes a `pending` row, without a request, for every id the batch reports unfinished.
async fn write_pending(
    plan: &Plan,
    waiting: &[(String, String)],
    out: &mut Batcher,
    summary: &mut Summary,
) -> Result<(), WriterStopped> {
    for (id, status) in waiting {
        let mut row = Row::bare(&plan.cfg.batch_id, id, FetchState::Pending);
        row.fetch_error = Some(format!(
            "batch reports {status} for this item; not requested yet"
        ));
        row.fetched_at = Some(now_unix());
        row.attempts = Some(0);
        summary.count(FetchState::Pending);
        out.push(row).await?;
    }
    Ok(())
}

/// Writes a `not_found` row, without a request, for every manifest id the batch's status
/// does not list.
async fn write_absent(
    plan: &Plan,
    absent: &[String],
    out: &mut Batcher,
    summary: &mut Summary,
) -> Result<(), WriterStopped> {
    for id in absent {
        let mut row = Row::bare(&plan.cfg.batch_id, id, FetchState::NotFound);
        row.fetch_error = Some(format!(
            "{NOT_IN_BATCH}: the batch's status does not list this id; not requested"
        ));
        row.fetched_at = Some(now_unix());
        row.attempts = Some(0);
        summary.record(&row);
        out.push(row).await?;
    }
    Ok(())
}

/// What the requests go through: the client, and the pace every result request keeps.
#[derive(Clone, Copy)]
struct Net<'a> {
    client: &'a Client,
    pace: &'a Arc<Pace>,
}

/// The request stream: at most twice `concurrency` ids in progress, their requests at the pace,
/// each outcome a row pushed to the writer as it comes, until every id is done, `stop`
/// resolves, the client halts or the writer stops at a failed commit.
async fn fetch_all(
    net: Net<'_>,
    plan: &Plan,
    work: Work,
    out: &mut Batcher,
    summary: &mut Summary,
    stop: impl Future<Output = Stop>,
) {
    let wait = plan.cfg.wait.is_some();
    let to_fetch = work.todo.len() + if wait { work.waiting.len() } else { 0 };
    let bar = progress::bar(plan.cfg.progress && !plan.cfg.quiet, to_fetch as u64, wait);
    let waiting = if wait { work.waiting } else { Vec::new() };
    let client = net.client;
    let (ids, mut poller) = id_source(client, plan, work.todo, waiting, summary, &bar);
    let (batch_id, keep_raw) = (plan.cfg.batch_id.as_str(), plan.cfg.keep_raw);
    let gone = plan.gone.as_deref();
    let pace = &**net.pace;
    let mut rows = ids
        .map(|id| async move {
            let fetched = client.result(batch_id, &id, pace).await;
            outcome::to_row(batch_id, &id, fetched, keep_raw, gone)
        })
        .buffer_unordered(ids_in_progress(plan.cfg.concurrency));
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    let writer_stopped = out.stopped();
    tokio::pin!(stop, writer_stopped);
    let mut done = 0u64;
    loop {
        tokio::select! {
            biased;
            why = &mut stop => { summary.stopped = Some(why); break; }
            () = &mut writer_stopped => break,
            next = rows.next() => {
                let Some(row) = next else { break };
                done += 1;
                if let Some(row) = row {
                    if let Some(p) = poller.as_mut() {
                        p.record(&row, summary);
                    }
                    show(&bar, &row, poller.is_none(), summary, client, done);
                    summary.record(&row);
                    if out.push(row).await.is_err() {
                        break;
                    }
                }
                if let Some(why) = halted(net) {
                    summary.stopped = Some(why);
                    break;
                }
            },
            _ = tick.tick() => if out.flush().await.is_err() { break },
        }
    }
    drop(rows);
    if let Some(p) = poller.take() {
        p.stop();
    }
    if summary.stopped.is_none() {
        summary.stopped = halted(net);
    }
    bar.finish_and_clear();
}

/// Moves the bar for a row that settled its id, and refreshes its counts now and then.
fn show(bar: &ProgressBar, row: &Row, one_pass: bool, s: &Summary, client: &Client, done: u64) {
    if one_pass || row.fetch_state != FetchState::Pending {
        bar.inc(1);
    }
    if row.fetch_state != FetchState::Fetched || done % 256 == 0 {
        bar.set_message(format!(
            "{} not found · {} errors · {} retries",
            s.not_found,
            s.error,
            client.retries()
        ));
    }
}

/// Where the pipeline's ids come from. Without `--wait` they are all known now; with it a
/// poller hands them out as the batch reports them finished, and hears back how each ended.
fn id_source(
    client: &Client,
    plan: &Plan,
    todo: IdList,
    waiting: Vec<(String, String)>,
    summary: &Summary,
    bar: &ProgressBar,
) -> (BoxStream<'static, String>, Option<wait::Poller>) {
    let Some(interval) = plan.cfg.wait else {
        return (stream::iter(todo).boxed(), None);
    };
    let wait::Feed { ids, poller } = wait::start(Waiter {
        client: client.clone(),
        batch_id: plan.cfg.batch_id.clone(),
        interval,
        ready: todo,
        waiting: waiting.into_iter().collect(),
        fetched: summary.fetched,
        settled: summary.not_found + summary.error,
        total: summary.total,
        bar: bar.clone(),
        lines: !plan.cfg.progress && !plan.cfg.quiet,
    });
    (ids, Some(poller))
}

/// Why the client refuses further requests, if it does: the key was rejected, the API
/// never answered at all, or it answered nothing but 429/503 for too long.
fn halted(net: Net<'_>) -> Option<Stop> {
    if net.client.auth_failed() {
        Some(Stop::AuthRejected)
    } else if net.client.unreachable().is_some() {
        Some(Stop::Unreachable)
    } else if net.pace.exhausted() {
        Some(Stop::Throttled)
    } else {
        None
    }
}
