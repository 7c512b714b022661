//! Merging sorted sources of export rows (the previous output, checkpoint parts) into one
//! sorted stream with one row per `(batch_id, custom_id)`, in bounded memory: each source
//! holds one record batch at a time.

use anyhow::{bail, Context};
use arrow_array::cast::AsArray;
use arrow_array::RecordBatch;

use super::schema;
use crate::row::FetchState;

#[path = "merge_cursor.rs"]
mod cursor;

pub(crate) use cursor::Cursor;
use cursor::{before, pop, sift_down, sift_up};

/// Rows per merged output batch (and per checkpoint part batch) at most: small batches
/// keep what every source holds small; much smaller ones make the Arrow IPC reader and
/// writer spend more per row on each batch's overhead (at 64 rows, the sink was 18 %
/// slower on interleaved ids).
pub(crate) const OUT_ROWS: usize = 128;
/// Bytes of raw_json + output_text per batch at most (give or take one row), in merged
/// output and in checkpoint parts alike: a merge holds about one batch per source, so
/// this bounds its memory per source.
pub(crate) const OUT_BYTES: usize = 64 << 10;

/// Batches of the export schema, in key order within and across batches.
pub(crate) type Batches = Box<dyn Iterator<Item = anyhow::Result<RecordBatch>> + Send>;

/// Whether a row in state `new` replaces a stored row in state `old`: the SQLite sink's
/// rule, so a failed refetch never destroys a fetched result.
pub(crate) fn replaces(new: &str, old: &str) -> bool {
    new == FetchState::Fetched.as_str() || old != FetchState::Fetched.as_str()
}

/// Merges sorted sources (oldest first) into batches of one row per key, in key order,
/// pulled one at a time. For a key present in several sources the newest row wins unless it
/// would replace a fetched row with a non-fetched one.
pub(crate) struct Merger {
    /// The sources not yet exhausted, as a binary heap on (key, age): the smallest first.
    heap: Vec<Cursor>,
    held: Vec<RecordBatch>,
    picks: Vec<(usize, usize)>,
    tied: Vec<Cursor>,
    /// raw_json and output_text, whose bytes count against `OUT_BYTES`.
    text_cols: [usize; 2],
}

impl Merger {
    /// A merger over `sources`, oldest first.
    pub(crate) fn new(sources: Vec<Cursor>) -> Merger {
        let mut heap: Vec<Cursor> = Vec::with_capacity(sources.len());
        for (age, mut c) in sources.into_iter().enumerate() {
            c.age = age;
            heap.push(c);
        }
        for i in (0..heap.len() / 2).rev() {
            sift_down(&mut heap, i);
        }
        Merger {
            tied: Vec::with_capacity(heap.len()),
            heap,
            held: Vec::new(),
            picks: Vec::with_capacity(OUT_ROWS),
            text_cols: [
                schema::index_of("raw_json"),
                schema::index_of("output_text"),
            ],
        }
    }

    /// The next merged batch (at most `OUT_ROWS` rows or about `OUT_BYTES` of text), or
    /// `None` when every source is exhausted. A run of rows that one source holds alone
    /// comes out as a slice of that source's batch, without copying.
    pub(crate) fn next_batch(&mut self) -> anyhow::Result<Option<RecordBatch>> {
        let mut bytes = 0usize;
        while !self.heap.is_empty() && self.picks.len() < OUT_ROWS && bytes < OUT_BYTES {
            match self.pick(OUT_ROWS - self.picks.len(), OUT_BYTES - bytes)? {
                Pick::Rows(n) => bytes += n,
                Pick::Slice(b) => return Ok(Some(b)),
                Pick::Stop => break,
            }
        }
        if self.picks.is_empty() {
            return Ok(None);
        }
        let refs: Vec<&RecordBatch> = self.held.iter().collect();
        let out = arrow_select::interleave::interleave_record_batch(&refs, &self.picks)
            .context("merging rows")?;
        // Keep only the batches the sources still stand on.
        self.picks.clear();
        self.held.clear();
        for c in self.heap.iter_mut() {
            c.slot = usize::MAX;
        }
        Ok(Some(out))
    }

    /// Takes the rows of the smallest key, at most `room` of them (and picked ones up to
    /// the row that reaches `bytes_left` of text): a run that one source holds below every
    /// other source's key, or the winning row of a key several sources hold (moving past
    /// that key in all of them).
    fn pick(&mut self, room: usize, bytes_left: usize) -> anyhow::Result<Pick> {
        let heap = &self.heap;
        // The next smallest key is on one of the root's children.
        let next = match (heap.get(1), heap.get(2)) {
            (Some(a), Some(b)) if before(b, a) => Some(b),
            (a, _) => a,
        };
        let bound = next.map(|c| c.key());
        if bound == Some(heap[0].key()) {
            return self.pick_tied();
        }
        let n = heap[0].run_len(bound, room);
        self.pick_run(n, bytes_left)
    }

    /// Takes the `n` rows of the root source's run: as a slice of its batch when the run is
    /// long (unless rows are picked already), else row by row up to the one that reaches
    /// `bytes_left` of text.
    fn pick_run(&mut self, mut n: usize, bytes_left: usize) -> anyhow::Result<Pick> {
        let c = &mut self.heap[0];
        let taken = if n >= RUN_SLICE {
            if !self.picks.is_empty() {
                return Ok(Pick::Stop);
            }
            Pick::Slice(c.batch.slice(c.pos, n))
        } else {
            let mut bytes = 0;
            for row in c.pos..c.pos + n {
                bytes += take_row(&mut self.held, &mut self.picks, c, row, self.text_cols);
                if bytes >= bytes_left {
                    n = row + 1 - c.pos;
                    break;
                }
            }
            Pick::Rows(bytes)
        };
        if c.skip(n)? {
            sift_down(&mut self.heap, 0);
        } else {
            pop(&mut self.heap);
        }
        Ok(taken)
    }

    /// Takes the winning row of the smallest key, which several sources hold: they leave
    /// the heap oldest first, the newest row wins by the upsert rule, and all of them move
    /// past the key.
    fn pick_tied(&mut self) -> anyhow::Result<Pick> {
        let (heap, tied) = (&mut self.heap, &mut self.tied);
        tied.push(pop(heap));
        while heap.first().is_some_and(|c| c.key() == tied[0].key()) {
            tied.push(pop(heap));
        }
        let mut win = 0;
        for i in 1..tied.len() {
            if replaces(tied[i].state(), tied[win].state()) {
                win = i;
            }
        }
        let w = &mut tied[win];
        let row = w.pos;
        let bytes = take_row(&mut self.held, &mut self.picks, w, row, self.text_cols);
        for mut c in tied.drain(..) {
            if c.advance()? {
                heap.push(c);
                let at = heap.len() - 1;
                sift_up(heap, at);
            }
        }
        Ok(Pick::Rows(bytes))
    }
}

/// Adds row `row` of cursor `c`'s batch to the picks (holding the batch for the merged
/// batch to copy from); returns the row's bytes in the `text` columns.
fn take_row(
    held: &mut Vec<RecordBatch>,
    picks: &mut Vec<(usize, usize)>,
    c: &mut Cursor,
    row: usize,
    text: [usize; 2],
) -> usize {
    if c.slot == usize::MAX {
        c.slot = held.len();
        held.push(c.batch.clone());
    }
    picks.push((c.slot, row));
    text.iter().map(|&col| text_len(&c.batch, col, row)).sum()
}

/// Rows of a run from one source that come out as a slice of its batch rather than being
/// copied row by row.
const RUN_SLICE: usize = 8;

/// What one [`Merger::pick`] took.
enum Pick {
    /// Rows added to the picks, with their text bytes.
    Rows(usize),
    /// A run of one source, ready to emit.
    Slice(RecordBatch),
    /// A run is next, but rows are already picked: emit them first.
    Stop,
}

/// Merges `sources` (oldest first) to the end, handing each merged batch to `emit`;
/// returns the rows emitted.
pub(crate) fn merge(
    sources: Vec<Cursor>,
    mut emit: impl FnMut(RecordBatch) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let mut m = Merger::new(sources);
    let mut total = 0u64;
    while let Some(b) = m.next_batch()? {
        total += b.num_rows() as u64;
        emit(b)?;
    }
    Ok(total)
}

fn text_len(batch: &RecordBatch, col: usize, row: usize) -> usize {
    let a = batch.column(col).as_string::<i32>();
    let o = a.value_offsets();
    (o[row + 1] - o[row]) as usize
}

/// Fails unless every batch of a source has the export schema exactly.
pub(crate) fn exact(name: &str, batch: RecordBatch) -> anyhow::Result<RecordBatch> {
    if let Err(e) = schema::check_exact(batch.schema().as_ref()) {
        bail!("'{name}' is not a sail-export Parquet export: {e}");
    }
    RecordBatch::try_new(schema::schema(), batch.columns().to_vec())
        .with_context(|| format!("reading '{name}'"))
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
