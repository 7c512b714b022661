//! The writer side of the pipeline: rows are gathered into bounded chunks, and one thread
//! owns the sink and commits each chunk as one transaction (or checkpoint part); the
//! pipeline awaits its end without blocking, so a signal is still heard while it merges.

use std::time::Duration;

use anyhow::anyhow;
use tokio::sync::{mpsc, oneshot};

use crate::cancel::Cancel;
use crate::row::Row;
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
    done: oneshot::Receiver<anyhow::Result<()>>,
}

impl Writer {
    /// Starts the thread that owns `sink` from the first row to `finish`; `cancel` stops
    /// the sink's long work (`Sink::set_cancel`).
    pub(super) fn start(mut sink: Box<dyn Sink>, cancel: Cancel) -> Writer {
        sink.set_cancel(cancel);
        let (tx, rx) = mpsc::channel::<Vec<Row>>(1);
        let (finish, finish_rx) = oneshot::channel::<Summary>();
        let (done_tx, done) = oneshot::channel();
        std::thread::spawn(move || {
            let _ = done_tx.send(write_all(sink, rx, finish_rx));
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
    /// pushed is committed when this returns `Ok`.
    pub(super) async fn finish(mut self, summary: Summary) -> anyhow::Result<()> {
        self.rows.flush().await?;
        drop(self.rows);
        // A writer that failed has dropped its end; its error comes out of `done`.
        let _ = self.finish.send(summary);
        self.done
            .await
            .map_err(|_| anyhow!("the writer thread panicked"))?
    }
}

/// Collects rows into chunks and hands each chunk to the writer as one transaction.
pub(super) struct Batcher {
    tx: mpsc::Sender<Vec<Row>>,
    rows: Vec<Row>,
    bytes: usize,
}

impl Batcher {
    /// Adds a row; hands the chunk over once it holds [`CHUNK_ROWS`] rows or [`CHUNK_BYTES`].
    pub(super) async fn push(&mut self, row: Row) -> anyhow::Result<()> {
        self.bytes += row.text_bytes();
        self.rows.push(row);
        if self.rows.len() >= CHUNK_ROWS || self.bytes >= CHUNK_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    /// Hands over whatever is gathered.
    pub(super) async fn flush(&mut self) -> anyhow::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        // The next chunk is likely the size of this one: with ~2.5 KB of text a row the
        // byte limit hands chunks over at ~200 rows, and room for 1,000 would hold
        // hundreds of KB of unused `Row`s in each of the three chunks alive at once.
        let room = self.rows.len();
        let chunk = std::mem::replace(&mut self.rows, Vec::with_capacity(room));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::FetchState;

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
