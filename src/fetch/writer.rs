//! The writer side of the pipeline: rows are gathered into bounded chunks, and one thread
//! owns the sink and commits each chunk as one transaction (or checkpoint part), one chunk
//! at a time.

use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use crate::row::Row;
use crate::sink::Sink;
use crate::summary::Summary;

/// Rows per transaction at most.
pub const CHUNK_ROWS: usize = 1000;
/// Bytes of `output_text` + `raw_json` per transaction at most (give or take one row): with
/// the one chunk the writer holds and the one being gathered, this bounds the rows held in
/// memory whatever their size (`docs/design.md`).
pub const CHUNK_BYTES: usize = 1 << 19;
/// Longest time a fetched row waits before it is committed.
pub(super) const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// The writer thread and the pipeline's handle on it.
pub(super) struct Writer {
    /// Where rows are gathered.
    pub(super) rows: Batcher,
    finish: oneshot::Sender<Summary>,
    thread: std::thread::JoinHandle<anyhow::Result<()>>,
}

impl Writer {
    /// Starts the thread that owns `sink` from the first row to `finish`.
    pub(super) fn start(sink: Box<dyn Sink>) -> Writer {
        let (tx, rx) = mpsc::channel::<Chunk>(1);
        let (finish, finish_rx) = oneshot::channel::<Summary>();
        let thread = std::thread::spawn(move || write_all(sink, rx, finish_rx));
        Writer {
            rows: Batcher::new(tx),
            finish,
            thread,
        }
    }

    /// Commits what is gathered, hands the summary to the sink's `finish` and waits for the
    /// thread: every row pushed is committed when this returns `Ok`.
    pub(super) async fn finish(mut self, summary: Summary) -> anyhow::Result<()> {
        self.rows.flush().await?;
        drop(self.rows);
        // A writer that failed has dropped its end; its error comes out of `join`.
        let _ = self.finish.send(summary);
        self.thread
            .join()
            .map_err(|_| anyhow!("the writer thread panicked"))?
    }
}

/// A chunk of rows on its way to the writer, with the one permit to be there: the writer
/// drops both once the chunk is written.
type Chunk = (Vec<Row>, OwnedSemaphorePermit);

/// Collects rows into chunks and hands each chunk to the writer as one transaction.
pub(super) struct Batcher {
    tx: mpsc::Sender<Chunk>,
    /// One permit: a chunk is handed over once the writer is done with the previous one.
    slot: Arc<Semaphore>,
    rows: Vec<Row>,
    bytes: usize,
}

impl Batcher {
    fn new(tx: mpsc::Sender<Chunk>) -> Batcher {
        Batcher {
            tx,
            slot: Arc::new(Semaphore::new(1)),
            rows: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds a row; hands the chunk over once it holds [`CHUNK_ROWS`] rows or [`CHUNK_BYTES`].
    pub(super) async fn push(&mut self, row: Row) -> anyhow::Result<()> {
        self.bytes += row.output_text.as_ref().map_or(0, String::len)
            + row.raw_json.as_ref().map_or(0, String::len);
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
        // Waits for the writer before taking the rows, so a cancelled wait loses nothing.
        let permit = self.slot.clone().acquire_owned().await?;
        // The next chunk is likely the size of this one: with ~3 KB rows the byte limit
        // hands chunks over at ~150 rows, and room for 1,000 rows would hold ~0.6 MB of
        // unused `Row`s in each chunk alive.
        let room = self.rows.len();
        let chunk = std::mem::replace(&mut self.rows, Vec::with_capacity(room));
        self.bytes = 0;
        // A closed channel means the writer failed; its error is reported by `join`.
        let _ = self.tx.send((chunk, permit)).await;
        Ok(())
    }
}

/// The writer thread: the only owner of the sink, from the first row to `finish` (so a
/// Parquet export's final merge reuses the memory its checkpoint compactions freed, which
/// stays with this thread's allocator arena).
fn write_all(
    mut sink: Box<dyn Sink>,
    mut rx: mpsc::Receiver<Chunk>,
    finish: oneshot::Receiver<Summary>,
) -> anyhow::Result<()> {
    while let Some((rows, permit)) = rx.blocking_recv() {
        sink.write(&rows)?;
        // The rows are freed before the next chunk may come.
        drop(rows);
        drop(permit);
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
        let mut b = Batcher::new(tx);
        // Each received chunk is dropped at the end of its statement, permit and all.
        let mut next_len = || rx.try_recv().map(|(rows, _permit)| rows.len());
        for i in 0..=CHUNK_ROWS {
            b.push(row(i, 10, 0)).await.unwrap();
        }
        assert_eq!(next_len().unwrap(), CHUNK_ROWS);
        assert!(next_len().is_err(), "the last row waits for more");
        b.flush().await.unwrap();
        assert_eq!(next_len().unwrap(), 1);

        // Large rows: output_text and raw_json both count towards the byte limit.
        let third = CHUNK_BYTES / 3 + 1;
        b.push(row(0, third, 0)).await.unwrap();
        b.push(row(1, 0, third)).await.unwrap();
        assert!(next_len().is_err(), "two thirds of the limit");
        b.push(row(2, third / 2, third / 2 + 1)).await.unwrap();
        assert_eq!(next_len().unwrap(), 3);
        b.push(row(3, 10, 0)).await.unwrap();
        b.flush().await.unwrap();
        assert_eq!(next_len().unwrap(), 1, "the byte count starts again");
    }

    #[tokio::test]
    async fn a_chunk_waits_until_the_writer_is_done_with_the_previous_one() {
        use futures::FutureExt;
        let (tx, mut rx) = mpsc::channel(16);
        let mut b = Batcher::new(tx);
        b.push(row(0, 10, 0)).await.unwrap();
        b.flush().await.unwrap();
        let (first, permit) = rx.try_recv().unwrap();
        b.push(row(1, 10, 0)).await.unwrap();
        assert!(
            b.flush().now_or_never().is_none(),
            "a second chunk is not handed over while the first is being written"
        );
        assert!(rx.try_recv().is_err());
        assert_eq!(b.rows.len(), 1, "the waiting rows stay with the batcher");
        drop((first, permit));
        b.flush().await.unwrap();
        let (second, _permit) = rx.try_recv().unwrap();
        assert_eq!(second[0].custom_id, "id1");
    }
}
