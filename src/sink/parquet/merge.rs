//! Merging sorted sources of export rows (the previous output, checkpoint parts) into one
//! sorted stream with one row per `(batch_id, custom_id)`, in bounded memory: each source
//! holds one record batch at a time.

use anyhow::{bail, Context};
use arrow_array::cast::AsArray;
use arrow_array::{RecordBatch, StringArray};

use super::schema;
use crate::row::FetchState;

/// Rows per merged output batch (and per checkpoint part batch) at most: small batches
/// keep what every source holds small; much smaller ones make the Arrow IPC reader and
/// writer spend more per row on each batch's overhead (at 64 rows, the sink was 18 %
/// slower on interleaved ids).
pub const OUT_ROWS: usize = 128;
/// Bytes of raw_json + output_text per batch at most (give or take one row), in merged
/// output and in checkpoint parts alike: a merge holds about one batch per source, so
/// this bounds its memory per source.
pub const OUT_BYTES: usize = 64 << 10;

/// Batches of the export schema, in key order within and across batches.
pub type Batches = Box<dyn Iterator<Item = anyhow::Result<RecordBatch>> + Send>;

/// Whether a row in state `new` replaces a stored row in state `old`: the SQLite sink's
/// rule, so a failed refetch never destroys a fetched result.
pub fn replaces(new: &str, old: &str) -> bool {
    new == FetchState::Fetched.as_str() || old != FetchState::Fetched.as_str()
}

/// One sorted source, positioned on a row.
pub struct Cursor {
    name: String,
    batches: Batches,
    batch: RecordBatch,
    bid: StringArray,
    cid: StringArray,
    state: StringArray,
    pos: usize,
    last: Option<(String, String)>,
    slot: usize,
    age: usize,
}

impl Cursor {
    /// A cursor on the first row of `batches`; `None` when the source is empty. `name`
    /// names the source in errors.
    pub fn open(name: String, mut batches: Batches) -> anyhow::Result<Option<Cursor>> {
        loop {
            match batches.next() {
                None => return Ok(None),
                Some(b) => {
                    let b = b.with_context(|| format!("reading '{name}'"))?;
                    if b.num_rows() == 0 {
                        continue;
                    }
                    let empty = StringArray::from(Vec::<&str>::new());
                    let mut c = Cursor {
                        name,
                        batches,
                        batch: b,
                        bid: empty.clone(),
                        cid: empty.clone(),
                        state: empty,
                        pos: 0,
                        last: None,
                        slot: usize::MAX,
                        age: 0,
                    };
                    c.load_keys();
                    return Ok(Some(c));
                }
            }
        }
    }

    fn load_keys(&mut self) {
        let b = &self.batch;
        self.bid = b
            .column(schema::index_of("batch_id"))
            .as_string::<i32>()
            .clone();
        self.cid = b
            .column(schema::index_of("custom_id"))
            .as_string::<i32>()
            .clone();
        self.state = b
            .column(schema::index_of("fetch_state"))
            .as_string::<i32>()
            .clone();
    }

    fn key(&self) -> (&str, &str) {
        (self.bid.value(self.pos), self.cid.value(self.pos))
    }

    fn state(&self) -> &str {
        self.state.value(self.pos)
    }

    /// Moves to the next row; `false` at the end. Fails if the source is not strictly
    /// sorted by key (a file sail-export did not write).
    fn advance(&mut self) -> anyhow::Result<bool> {
        if self.pos + 1 < self.batch.num_rows() {
            let (p, q) = (self.pos, self.pos + 1);
            self.pos = q;
            if (self.bid.value(q), self.cid.value(q)) <= (self.bid.value(p), self.cid.value(p)) {
                return Err(self.unsorted());
            }
            return Ok(true);
        }
        let (b, c) = self.key();
        self.last = Some((b.to_owned(), c.to_owned()));
        loop {
            match self.batches.next() {
                None => return Ok(false),
                Some(b) => {
                    let b = b.with_context(|| format!("reading '{}'", self.name))?;
                    if b.num_rows() == 0 {
                        continue;
                    }
                    self.batch = b;
                    self.pos = 0;
                    self.slot = usize::MAX;
                    self.load_keys();
                    if let Some((lb, lc)) = &self.last {
                        if self.key() <= (lb.as_str(), lc.as_str()) {
                            return Err(self.unsorted());
                        }
                    }
                    return Ok(true);
                }
            }
        }
    }

    /// How many rows from the current one on (at most `max`, and within the current batch)
    /// are strictly increasing and below `bound`, the smallest key of the other sources;
    /// at least 1, the current row being below `bound` already.
    fn run_len(&self, bound: Option<(&str, &str)>, max: usize) -> usize {
        let end = self.batch.num_rows().min(self.pos + max);
        let mut q = self.pos + 1;
        while q < end {
            let k = (self.bid.value(q), self.cid.value(q));
            if k <= (self.bid.value(q - 1), self.cid.value(q - 1)) || bound.is_some_and(|b| k >= b)
            {
                break;
            }
            q += 1;
        }
        q - self.pos
    }

    /// Moves past `n` rows (`n >= 1`, within the current batch); `false` at the end.
    fn skip(&mut self, n: usize) -> anyhow::Result<bool> {
        self.pos += n - 1;
        self.advance()
    }

    fn unsorted(&self) -> anyhow::Error {
        let (b, c) = self.key();
        crate::error::UsageError::new(format!(
            "'{}' is not sorted by (batch_id, custom_id) at ('{b}', '{c}'); it was not written \
             by sail-export: choose another -o/--out or move it away",
            self.name
        ))
        .into()
    }
}

/// Merges sorted sources (oldest first) into batches of one row per key, in key order,
/// pulled one at a time. For a key present in several sources the newest row wins unless it
/// would replace a fetched row with a non-fetched one.
pub struct Merger {
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
    pub fn new(sources: Vec<Cursor>) -> Merger {
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
    pub fn next_batch(&mut self) -> anyhow::Result<Option<RecordBatch>> {
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
        let heap = &mut self.heap;
        // The next smallest key is on one of the root's children.
        let next = match (heap.get(1), heap.get(2)) {
            (Some(a), Some(b)) if before(b, a) => Some(b),
            (a, _) => a,
        };
        let bound = next.map(|c| c.key());
        if bound != Some(heap[0].key()) {
            let mut n = heap[0].run_len(bound, room);
            let c = &mut heap[0];
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
                sift_down(heap, 0);
            } else {
                pop(heap);
            }
            return Ok(taken);
        }
        // Several sources hold the smallest key: they leave the heap oldest first, the
        // newest row wins by the upsert rule, and all of them move past the key.
        let tied = &mut self.tied;
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

/// Whether cursor `a` comes before `b`: a smaller key, or the same key in an older source.
fn before(a: &Cursor, b: &Cursor) -> bool {
    (a.key(), a.age) < (b.key(), b.age)
}

/// Restores the heap order below `i` after the cursor at `i` moved forward.
fn sift_down(heap: &mut [Cursor], mut i: usize) {
    loop {
        let l = 2 * i + 1;
        if l >= heap.len() {
            return;
        }
        let c = if l + 1 < heap.len() && before(&heap[l + 1], &heap[l]) {
            l + 1
        } else {
            l
        };
        if !before(&heap[c], &heap[i]) {
            return;
        }
        heap.swap(c, i);
        i = c;
    }
}

/// Restores the heap order above `i` after a cursor was put at `i`.
fn sift_up(heap: &mut [Cursor], mut i: usize) {
    while i > 0 {
        let p = (i - 1) / 2;
        if !before(&heap[i], &heap[p]) {
            return;
        }
        heap.swap(i, p);
        i = p;
    }
}

/// Takes the smallest cursor out of the heap.
fn pop(heap: &mut Vec<Cursor>) -> Cursor {
    let c = heap.swap_remove(0);
    sift_down(heap, 0);
    c
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
pub fn merge(
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
pub fn exact(name: &str, batch: RecordBatch) -> anyhow::Result<RecordBatch> {
    if let Err(e) = schema::check_exact(batch.schema().as_ref()) {
        bail!("'{name}' is not a sail-export Parquet export: {e}");
    }
    RecordBatch::try_new(schema::schema(), batch.columns().to_vec())
        .with_context(|| format!("reading '{name}'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::{FetchState, Row};

    #[test]
    fn only_a_fetched_row_replaces_a_fetched_row() {
        for new in FetchState::ALL {
            for old in FetchState::ALL {
                let want = new == FetchState::Fetched || old != FetchState::Fetched;
                assert_eq!(
                    replaces(new.as_str(), old.as_str()),
                    want,
                    "{new:?} over {old:?}"
                );
            }
        }
    }

    /// A cursor over `rows` (already sorted), in batches of `per` rows.
    fn source(name: &str, rows: &[Row], per: usize) -> Option<Cursor> {
        let batches: Vec<anyhow::Result<RecordBatch>> = rows
            .chunks(per)
            .map(|c| Ok(schema::to_batch(c, &(0..c.len()).collect::<Vec<_>>())))
            .collect();
        Cursor::open(name.into(), Box::new(batches.into_iter())).unwrap()
    }

    /// (custom_id, fetch_state, model) of every merged row, in order.
    fn merged(sources: Vec<Cursor>) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        merge(sources, |b| {
            assert!(b.num_rows() <= OUT_ROWS, "{} rows", b.num_rows());
            let col = |n: &str| b.column(schema::index_of(n)).as_string::<i32>().clone();
            let (cid, st, model) = (col("custom_id"), col("fetch_state"), col("model"));
            for i in 0..b.num_rows() {
                let m = model.value(i).to_owned();
                out.push((cid.value(i).to_owned(), st.value(i).to_owned(), m));
            }
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn runs_and_interleaved_rows_merge_like_the_upsert_rule() {
        // Sources whose keys come in runs of every length, from whole batches to single
        // rows, with keys that several sources share in every pair of states.
        let mut seed = 7u64;
        let mut rand = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let mut want: std::collections::BTreeMap<String, (String, String)> = Default::default();
        let mut sources = Vec::new();
        for s in 0..6 {
            let mut keys = std::collections::BTreeSet::new();
            let mut k = rand(50);
            while keys.len() < 300 {
                // Mostly consecutive keys (runs), sometimes a jump.
                k += if rand(10) == 0 { 1 + rand(400) } else { 1 };
                keys.insert(k % 2000);
            }
            let rows: Vec<Row> = keys
                .iter()
                .map(|k| {
                    let state = FetchState::ALL[rand(FetchState::ALL.len() as u64) as usize];
                    let mut r = Row::bare("b", &format!("id-{k:05}"), state);
                    r.model = Some(format!("source {s}"));
                    r
                })
                .collect();
            for r in &rows {
                let new = (r.fetch_state.as_str().to_owned(), r.model.clone().unwrap());
                match want.get(&r.custom_id) {
                    Some(old) if !replaces(&new.0, &old.0) => {}
                    _ => {
                        want.insert(r.custom_id.clone(), new);
                    }
                }
            }
            sources.push(source("s", &rows, [1, 5, 64, 64, 13, 300][s]).unwrap());
        }
        let want: Vec<(String, String, String)> =
            want.into_iter().map(|(k, (st, m))| (k, st, m)).collect();
        assert_eq!(merged(sources), want);
    }

    #[test]
    fn disjoint_sources_come_out_as_slices_in_order() {
        let rows: Vec<Row> = (0..200)
            .map(|i| Row::bare("b", &format!("id-{i:03}"), FetchState::Fetched))
            .collect();
        let (a, b) = rows.split_at(120);
        let sources = vec![source("b", b, 64).unwrap(), source("a", a, 64).unwrap()];
        let (mut ids, mut sizes) = (Vec::new(), Vec::new());
        merge(sources, |batch| {
            let cid = batch.column(1).as_string::<i32>();
            ids.extend((0..batch.num_rows()).map(|i| cid.value(i).to_owned()));
            sizes.push(batch.num_rows());
            Ok(())
        })
        .unwrap();
        let expect: Vec<String> = rows.iter().map(|r| r.custom_id.clone()).collect();
        assert_eq!(ids, expect);
        // Each output batch is a whole source batch: 64 + 56 rows of `a`, 64 + 16 of `b`.
        assert_eq!(sizes, [64, 56, 64, 16]);
    }

    #[test]
    fn merged_batches_stop_at_the_row_that_reaches_the_byte_bound() {
        // Source a holds runs of 6 keys (too short to slice), b one key between them; every
        // row carries a quarter of the byte bound in text, so 4 rows reach it.
        let big = |k: usize| {
            let mut r = Row::bare("b", &format!("id-{k:03}"), FetchState::Fetched);
            r.output_text = Some("x".repeat(OUT_BYTES / 4));
            r
        };
        let a: Vec<Row> = (0..70).filter(|k| k % 7 != 6).map(big).collect();
        let b: Vec<Row> = (0..70).filter(|k| k % 7 == 6).map(big).collect();
        let mut sizes = Vec::new();
        let n = merge(
            vec![source("a", &a, 64).unwrap(), source("b", &b, 64).unwrap()],
            |batch| {
                sizes.push(batch.num_rows());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(n, 70);
        assert!(sizes.iter().all(|&s| s <= 4), "{sizes:?}");
    }

    #[test]
    fn a_row_out_of_order_inside_a_run_is_refused() {
        let mut rows: Vec<Row> = (0..40)
            .map(|i| Row::bare("b", &format!("id-{i:03}"), FetchState::Fetched))
            .collect();
        rows.swap(30, 31);
        let c = source("x.parquet", &rows, 64).unwrap();
        let err = merge(vec![c], |_| Ok(())).unwrap_err();
        assert!(
            format!("{err}")
                .contains("'x.parquet' is not sorted by (batch_id, custom_id) at ('b', 'id-030')"),
            "{err}"
        );
    }

    #[test]
    fn an_unsorted_source_is_refused_as_not_ours() {
        let rows = [
            Row::bare("b", "z", FetchState::Fetched),
            Row::bare("b", "a", FetchState::Fetched),
        ];
        let batch = schema::to_batch(&rows, &[0, 1]);
        let c = Cursor::open("x.parquet".into(), Box::new(std::iter::once(Ok(batch))))
            .unwrap()
            .unwrap();
        let err = merge(vec![c], |_| Ok(())).unwrap_err();
        assert!(err.is::<crate::error::UsageError>(), "{err:#}");
        assert!(
            format!("{err}").contains("'x.parquet' is not sorted"),
            "{err}"
        );
    }
}
