//! The concurrent pipeline: ids → bounded in-flight requests → rows → one writer thread that
//! owns the sink and commits in bounded transactions.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use futures::stream::{self, BoxStream};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use tokio::sync::{mpsc, oneshot};

use crate::api::model::ResponseObject;
use crate::api::{Client, Fetched, Outcome};
use crate::ids::{IdList, IdSet};
use crate::row::{FetchState, Row};
use crate::sink::{RunStart, Sink};
use crate::summary::{now_unix, Stop, Summary};
use crate::wait::{self, Waiter};

/// Rows per transaction at most.
const CHUNK_ROWS: usize = 1000;
/// Bytes of `output_text` + `raw_json` per transaction at most (give or take one row): with
/// the one chunk queued for the writer and the one it writes, this bounds the rows held in
/// memory whatever their size.
const CHUNK_BYTES: usize = 1 << 20;
/// Longest time a fetched row waits before it is committed.
const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// How to fetch, whatever the ids: the knobs a caller sets once.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Request ids even when the output already has them fetched.
    pub refetch_all: bool,
    /// Keep the body in `raw_json`.
    pub keep_raw: bool,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Options recorded in the `runs` table (never the key).
    pub options_json: String,
    /// `--wait`: poll the batch status this often and fetch the `not_ready` ids as they
    /// finish, until every id is settled. `None`: one pass.
    pub wait: Option<Duration>,
}

impl Default for Settings {
    /// 64 in flight, bodies kept, one pass, a progress bar when stderr is a terminal.
    fn default() -> Settings {
        Settings {
            concurrency: 64,
            refetch_all: false,
            keep_raw: true,
            progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            options_json: "{}".to_owned(),
            wait: None,
        }
    }
}

/// What to fetch and how; resolved from the command line by the caller.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The batch.
    pub batch_id: String,
    /// Unique custom_ids, in manifest order.
    pub ids: IdList,
    /// Ids known not to be finished (id → the batch's status string): written as `pending`
    /// without a request.
    pub not_ready: HashMap<String, String>,
    /// Output path, for the summary.
    pub out: String,
    /// How to fetch.
    pub settings: Settings,
}

/// Runs the export to completion, or until `stop` resolves or the key is rejected. Every
/// row that was handed to the sink is committed before this returns. Ids in `not_ready`
/// get a `pending` row without a request; with `wait` they are fetched once the batch
/// reports them terminal.
pub async fn run(
    client: &Client,
    mut sink: Box<dyn Sink>,
    mut plan: Plan,
    stop: impl Future<Output = Stop>,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let already = if plan.settings.refetch_all {
        IdSet::default()
    } else {
        sink.fetched_ids(&plan.batch_id)?
    };
    sink.begin_run(&RunStart {
        batch_id: plan.batch_id.clone(),
        started_at: now_unix(),
        options_json: plan.settings.options_json.clone(),
    })?;
    let mut summary = Summary {
        batch_id: plan.batch_id.clone(),
        out: plan.out.clone(),
        total: plan.ids.len() as u64,
        ..Summary::default()
    };
    // What is held for the run is one compact list of the ids still to fetch: the plan's
    // list, the set of done ids and the statuses of unfinished ids are dropped once it is
    // made (the unfinished ids themselves only as long as `--wait` needs them).
    let ids = std::mem::take(&mut plan.ids);
    let mut not_ready = std::mem::take(&mut plan.not_ready);
    let mut todo = IdList::with_capacity(ids.len(), 0);
    let mut waiting: Vec<(String, String)> = Vec::new();
    for id in ids.iter().filter(|id| !already.contains(id)) {
        match not_ready.remove_entry(id) {
            Some(entry) => waiting.push(entry),
            None => todo.push(id),
        }
    }
    todo.shrink_to_fit();
    drop((ids, already, not_ready));
    summary.skipped = summary.total - (todo.len() + waiting.len()) as u64;
    summary.fetched = summary.skipped;

    let (tx, rx) = mpsc::channel::<Vec<Row>>(1);
    let (finish_tx, finish_rx) = oneshot::channel::<Summary>();
    let writer = std::thread::spawn(move || write_all(sink, rx, finish_rx));
    let mut out = Batcher {
        tx,
        rows: Vec::with_capacity(CHUNK_ROWS),
        bytes: 0,
    };

    for (id, status) in &waiting {
        let mut row = Row::bare(&plan.batch_id, id, FetchState::Pending);
        row.fetch_error = Some(format!(
            "batch reports {status} for this item; not requested yet"
        ));
        row.fetched_at = Some(now_unix());
        row.attempts = Some(0);
        summary.count(FetchState::Pending);
        out.push(row).await?;
    }

    let to_fetch = todo.len()
        + if plan.settings.wait.is_some() {
            waiting.len()
        } else {
            0
        };
    let bar = progress_bar(
        plan.settings.progress,
        to_fetch as u64,
        plan.settings.wait.is_some(),
    );
    if plan.settings.wait.is_none() {
        waiting = Vec::new();
    }
    let (ids, mut poller) = id_source(client, &plan, todo, waiting, &summary, &bar);
    let mut rows = ids
        .map(|id| {
            let (client, batch, keep_raw) = (
                client.clone(),
                plan.batch_id.clone(),
                plan.settings.keep_raw,
            );
            tokio::spawn(async move {
                let fetched = client.result(&batch, &id).await;
                to_row(&batch, &id, fetched, keep_raw)
            })
        })
        .buffer_unordered(plan.settings.concurrency.max(1));
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tokio::pin!(stop);
    let mut done = 0u64;
    loop {
        tokio::select! {
            biased;
            why = &mut stop => { summary.stopped = Some(why); break; }
            next = rows.next() => match next {
                None => break,
                Some(joined) => {
                    done += 1;
                    if let Some(row) = joined.context("a fetch task panicked")? {
                        if let Some(p) = poller.as_mut() {
                            p.record(&row, &mut summary);
                        }
                        if poller.is_none() || row.fetch_state != FetchState::Pending {
                            bar.inc(1);
                        }
                        summary.count(row.fetch_state);
                        if row.fetch_state != FetchState::Fetched || done % 256 == 0 {
                            bar.set_message(format!(
                                "{} not found · {} errors · {} retries",
                                summary.not_found,
                                summary.error,
                                client.retries()
                            ));
                        }
                        out.push(row).await?;
                    }
                    if let Some(why) = halted(client) {
                        summary.stopped = Some(why);
                        break;
                    }
                }
            },
            _ = tick.tick() => out.flush().await?,
        }
    }
    drop(rows);
    if let Some(p) = poller.take() {
        p.stop();
    }
    if summary.stopped.is_none() {
        summary.stopped = halted(client);
    }
    bar.finish_and_clear();
    out.flush().await?;
    drop(out);
    let written = summary.fetched + summary.pending + summary.not_found + summary.error;
    summary.not_attempted = summary.total - written;
    summary.requests = client.requests();
    summary.retries = client.retries();
    summary.elapsed_s = started.elapsed().as_secs_f64();
    // A writer that failed has dropped its end; its error comes out of `join`.
    let _ = finish_tx.send(summary.clone());
    writer
        .join()
        .map_err(|_| anyhow!("the writer thread panicked"))??;
    Ok(summary)
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
    let Some(interval) = plan.settings.wait else {
        return (stream::iter(todo).boxed(), None);
    };
    let wait::Feed { ids, poller } = wait::start(Waiter {
        client: client.clone(),
        batch_id: plan.batch_id.clone(),
        interval,
        ready: todo,
        waiting: waiting.into_iter().collect(),
        fetched: summary.fetched,
        total: summary.total,
        bar: bar.clone(),
        lines: !plan.settings.progress,
    });
    (ids, Some(poller))
}

/// Why the client refuses further requests, if it does: the key was rejected, or the API
/// never answered at all.
fn halted(client: &Client) -> Option<Stop> {
    if client.auth_failed() {
        Some(Stop::AuthRejected)
    } else if client.unreachable().is_some() {
        Some(Stop::Unreachable)
    } else {
        None
    }
}

/// Collects rows into chunks and hands each chunk to the writer as one transaction.
struct Batcher {
    tx: mpsc::Sender<Vec<Row>>,
    rows: Vec<Row>,
    bytes: usize,
}

impl Batcher {
    async fn push(&mut self, row: Row) -> anyhow::Result<()> {
        self.bytes += row.output_text.as_ref().map_or(0, String::len)
            + row.raw_json.as_ref().map_or(0, String::len);
        self.rows.push(row);
        if self.rows.len() >= CHUNK_ROWS || self.bytes >= CHUNK_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.rows, Vec::with_capacity(CHUNK_ROWS));
        self.bytes = 0;
        // A closed channel means the writer failed; its error is reported by `join`.
        let _ = self.tx.send(chunk).await;
        Ok(())
    }
}

/// The writer thread: the only owner of the sink, from the first row to `finish` (so a
/// Parquet export's final merge reuses the memory its checkpoint compactions freed, which
/// stays with this thread's allocator arena).
fn write_all(
    mut sink: Box<dyn Sink>,
    mut rx: mpsc::Receiver<Vec<Row>>,
    finish: oneshot::Receiver<Summary>,
) -> anyhow::Result<()> {
    while let Some(rows) = rx.blocking_recv() {
        sink.write(&rows)?;
    }
    match finish.blocking_recv() {
        Ok(summary) => sink.finish(&summary),
        Err(_) => Err(anyhow!("the run ended before its summary was made")),
    }
}

/// One fetch outcome as a row; `None` when no request was made (the run was stopping).
pub fn to_row(
    batch_id: &str,
    custom_id: &str,
    f: Fetched<ResponseObject>,
    keep_raw: bool,
) -> Option<Row> {
    let mut row = match f.outcome {
        Outcome::Ok { value, body } => {
            let raw = keep_raw.then(|| String::from_utf8_lossy(&body).into_owned());
            Row::from_response(batch_id, custom_id, value, raw)
        }
        Outcome::NotFound { message } => {
            let mut r = Row::bare(batch_id, custom_id, FetchState::NotFound);
            r.fetch_error = Some(message.unwrap_or_else(|| "not found (HTTP 404)".to_owned()));
            r
        }
        Outcome::AuthRejected => {
            let mut r = Row::bare(batch_id, custom_id, FetchState::Error);
            r.fetch_error = Some("the API key was rejected; check SAIL_API_KEY".to_owned());
            r
        }
        Outcome::Failed { reason } => {
            let mut r = Row::bare(batch_id, custom_id, FetchState::Error);
            r.fetch_error = Some(reason);
            r
        }
        Outcome::Skipped => return None,
    };
    row.http_status = f.http_status.map(i64::from);
    row.attempts = Some(i64::from(f.attempts));
    row.fetched_at = Some(now_unix());
    Some(row)
}

/// The bar on stderr; with `--wait` the poller's counts lead it and rate and ETA are left
/// out (they mean little while items are still running).
fn progress_bar(show: bool, len: u64, wait: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(if wait {
            "{prefix}{bar:20} {pos}/{len} {msg}"
        } else {
            "{bar:30} {pos}/{len} {rate} eta {eta} {msg}"
        })
        .expect("static template")
        .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0}/s", s.per_sec());
        })
        .progress_chars("=> "),
    );
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: usize, text: usize, raw: usize) -> Row {
        let mut r = Row::bare("b", &format!("id{i}"), FetchState::Fetched);
        r.output_text = (text > 0).then(|| "t".repeat(text));
        r.raw_json = (raw > 0).then(|| "r".repeat(raw));
        r
    }

    #[tokio::test]
    async fn the_batcher_hands_over_a_chunk_at_the_row_or_the_byte_limit() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut b = Batcher {
            tx,
            rows: Vec::new(),
            bytes: 0,
        };
        for i in 0..=CHUNK_ROWS {
            b.push(row(i, 10, 0)).await.unwrap();
        }
        assert_eq!(rx.try_recv().unwrap().len(), CHUNK_ROWS);
        assert!(rx.try_recv().is_err(), "the last row waits for more");
        b.flush().await.unwrap();
        assert_eq!(rx.try_recv().unwrap().len(), 1);

        // Large rows: output_text and raw_json both count towards the byte limit.
        let third = CHUNK_BYTES / 3 + 1;
        b.push(row(0, third, 0)).await.unwrap();
        b.push(row(1, 0, third)).await.unwrap();
        assert!(rx.try_recv().is_err(), "two thirds of the limit");
        b.push(row(2, third / 2, third / 2 + 1)).await.unwrap();
        assert_eq!(rx.try_recv().unwrap().len(), 3);
        b.push(row(3, 10, 0)).await.unwrap();
        b.flush().await.unwrap();
        assert_eq!(
            rx.try_recv().unwrap().len(),
            1,
            "the byte count starts again"
        );
    }
}
