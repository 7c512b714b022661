//! The writer side of the pipeline: rows are gathered into bounded chunks, and one thread
//! owns the sink and commits each chunk as one transaction (or checkpoint part); the
//! pipeline awaits its end without blocking, so a signal is still heard while it merges.

use std::time::Duration;

use anyhow::anyhow;
use tokio::sync::{mpsc, oneshot};

use crate::cancel::Cancel;
use crate::row::{FetchState, Row};
use crate::sink::Sink;
use crate::summary::Summary;

/// Rows per transaction at most.
pub const CHUNK_ROWS: usize = 1000;
/// Bytes of `output_text` + `raw_json` per transaction at most (give or take one row): with
/// the one chunk being gathered, the one queued for the writer and the one it writes, this
/// bounds the rows held in memory whatever their size (`docs/design.md`).
pub const CHUNK_BYTES: usize = 1 << 19;
/// Longest time a fetched row waits before it is committed.
pub(super) const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// The writer thread and the pipeline's handle on it.
pub(super) struct Writer {
    /// Where rows are gathered.
    pub(super) rows: Batcher,
    finish: oneshot::Sender<Summary>,
    /// The thread's outcome, sent as it ends (dropped unsent if it panics).
    done: oneshot::Receiver<Result<(), Failed>>,
}

/// Why the writer stopped: the error, and the summary of the run as the output keeps it
/// (counts of the rows committed before the failure).
pub(super) struct Failed {
    pub(super) error: anyhow::Error,
    pub(super) summary: Box<Summary>,
}

impl Writer {
    /// Starts the thread that owns `sink` from the first row to `finish`; `cancel` stops
    /// the sink's long work (`Sink::set_cancel`); every row is written with `label` as its
    /// `batch_label`.
    pub(super) fn start(mut sink: Box<dyn Sink>, cancel: Cancel, label: Option<String>) -> Writer {
        sink.set_cancel(cancel);
        let (tx, rx) = mpsc::channel::<Vec<Row>>(1);
        let (finish, finish_rx) = oneshot::channel::<Summary>();
        let (done_tx, done) = oneshot::channel();
        std::thread::spawn(move || {
            let _ = done_tx.send(write_all(sink, rx, finish_rx, label));
        });
        Writer {
            rows: Batcher {
                tx,
                rows: Vec::new(),
                bytes: 0,
            },
            finish,
            done,
        }
    }

    /// Commits what is gathered, hands the summary to the sink's `finish` and awaits the
    /// thread's end (without blocking the runtime, so signals are still heard): every row
    /// pushed is committed when this returns `Ok`. A writer that failed (at a commit, or in
    /// `finish`) returns its error with the run's summary as the output keeps it, after
    /// recording that summary in the output as far as it can.
    pub(super) async fn finish(mut self, summary: Summary) -> Result<(), Failed> {
        // A writer that failed has dropped its end; its error comes out of `done`.
        let _ = self.rows.flush().await;
        drop(self.rows);
        let _ = self.finish.send(summary.clone());
        self.done.await.unwrap_or_else(|_| {
            Err(Failed {
                error: anyhow!("the writer thread panicked"),
                summary: Box::new(summary),
            })
        })
    }
}

/// Collects rows into chunks and hands each chunk to the writer as one transaction.
pub(super) struct Batcher {
    tx: mpsc::Sender<Vec<Row>>,
    rows: Vec<Row>,
    bytes: usize,
}

/// The writer has stopped after an error (which `Writer::finish` returns): no row handed
/// over from now on can be written, so the run stops requesting.
#[derive(Debug)]
pub(super) struct WriterStopped;

impl Batcher {
    /// Adds a row; hands the chunk over once it holds [`CHUNK_ROWS`] rows or [`CHUNK_BYTES`].
    pub(super) async fn push(&mut self, row: Row) -> Result<(), WriterStopped> {
        self.bytes += row.text_bytes();
        self.rows.push(row);
        if self.rows.len() >= CHUNK_ROWS || self.bytes >= CHUNK_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    /// Hands over whatever is gathered.
    pub(super) async fn flush(&mut self) -> Result<(), WriterStopped> {
        if self.rows.is_empty() {
            return Ok(());
        }
        // The next chunk is likely the size of this one: with ~2.5 KB of text a row the
        // byte limit hands chunks over at ~200 rows, and room for 1,000 would hold
        // hundreds of KB of unused `Row`s in each of the three chunks alive at once.
        let room = self.rows.len();
        let chunk = std::mem::replace(&mut self.rows, Vec::with_capacity(room));
        self.bytes = 0;
        self.tx.send(chunk).await.map_err(|_| WriterStopped)
    }

    /// Resolves as soon as the writer stops after an error, so the request stream can end
    /// at the first failed commit rather than at its next chunk.
    pub(super) fn stopped(&self) -> impl std::future::Future<Output = ()> + 'static {
        let tx = self.tx.clone();
        async move { tx.closed().await }
    }
}

/// Rows committed by this run, per state.
#[derive(Debug, Default)]
struct Committed {
    rows: u64,
    fetched: u64,
    pending: u64,
    not_found: u64,
    error: u64,
}

impl Committed {
    fn add(&mut self, rows: &[Row]) {
        for row in rows {
            self.rows += 1;
            match row.fetch_state {
                FetchState::Fetched => self.fetched += 1,
                FetchState::Pending => self.pending += 1,
                FetchState::NotFound => self.not_found += 1,
                FetchState::Error => self.error += 1,
            }
        }
    }

    /// `summary` (the run's counts of rows handed to the writer) brought down to what was
    /// committed: the rest is requested again by the next run.
    fn kept(&self, mut summary: Summary) -> Summary {
        summary.fetched = summary.skipped + self.fetched;
        // With --wait a pending row may have been committed and then replaced.
        summary.pending = self.pending.min(summary.pending);
        summary.not_found = self.not_found;
        summary.error = self.error;
        let written = summary.fetched + summary.pending + summary.not_found + summary.error;
        summary.not_attempted = summary.total.saturating_sub(written);
        summary
    }
}

/// The writer thread: the only owner of the sink, from the first row to `finish` (so a
/// Parquet export's final merge reuses the memory its checkpoint compactions freed, which
/// stays with this thread's allocator arena). At the first failed commit it drops its end
/// of the channel at once (the pipeline stops requesting), waits for the run's summary and
/// records it as failed, as far as the output still takes writes.
fn write_all(
    mut sink: Box<dyn Sink>,
    mut rx: mpsc::Receiver<Vec<Row>>,
    finish: oneshot::Receiver<Summary>,
    label: Option<String>,
) -> Result<(), Failed> {
    let mut committed = Committed::default();
    let mut failed = None;
    while let Some(mut rows) = rx.blocking_recv() {
        if label.is_some() {
            rows.iter_mut()
                .for_each(|r| r.batch_label.clone_from(&label));
        }
        match sink.write(&rows) {
            Ok(()) => committed.add(&rows),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    drop(rx);
    let Ok(summary) = finish.blocking_recv() else {
        return Err(Failed {
            error: failed.unwrap_or_else(|| anyhow!("the run ended before its summary was made")),
            summary: Box::default(),
        });
    };
    let error = match failed {
        None => match sink.finish(&summary) {
            Ok(()) => return Ok(()),
            // Every row was committed: the counts stand.
            Err(e) => {
                return Err(Failed {
                    error: e,
                    summary: Box::new(summary),
                })
            }
        },
        Some(e) => e,
    };
    let mut summary = committed.kept(summary);
    summary.fatal_error = Some(crate::error::describe(&error));
    if let Err(e) = sink.abandon(&summary) {
        tracing::warn!("could not record the failed run in the output: {e:#}");
    }
    Err(Failed {
        error,
        summary: Box::new(summary),
    })
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

    #[test]
    fn a_failed_run_counts_only_what_was_committed() {
        let mut committed = Committed::default();
        committed.add(&[row(0, 1, 0), row(1, 1, 0)]);
        committed.add(&[Row::bare("b", "x", FetchState::NotFound)]);
        let handed_over = Summary {
            total: 10,
            skipped: 3,
            fetched: 3 + 5,
            not_found: 1,
            error: 1,
            ..Summary::default()
        };
        let kept = committed.kept(handed_over);
        assert_eq!(
            (kept.fetched, kept.not_found, kept.error, kept.not_attempted),
            (5, 1, 0, 4),
            "the rows of the failed chunk are requested again by the next run"
        );
    }
}
