//! Merging sorted sources of export rows (the previous output, checkpoint parts) into one
//! sorted stream with one row per `(batch_id, custom_id)`, in bounded memory: each source
//! holds one record batch at a time.

use anyhow::{bail, Context};
use arrow_array::cast::AsArray;
use arrow_array::{RecordBatch, StringArray};

use super::schema;
use crate::row::FetchState;

/// Rows per merged output batch at most: small batches keep what every source holds small.
pub const OUT_ROWS: usize = 64;
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
    sources: Vec<Cursor>,
    held: Vec<RecordBatch>,
    picks: Vec<(usize, usize)>,
    at: Vec<usize>,
    raw: usize,
    text: usize,
}

impl Merger {
    /// A merger over `sources`, oldest first.
    pub fn new(sources: Vec<Cursor>) -> Merger {
        Merger {
            at: Vec::with_capacity(sources.len()),
            sources,
            held: Vec::new(),
            picks: Vec::with_capacity(OUT_ROWS),
            raw: schema::index_of("raw_json"),
            text: schema::index_of("output_text"),
        }
    }

    /// The next merged batch (at most `OUT_ROWS` rows or about `OUT_BYTES` of text), or
    /// `None` when every source is exhausted.
    pub fn next_batch(&mut self) -> anyhow::Result<Option<RecordBatch>> {
        let mut bytes = 0usize;
        while !self.sources.is_empty() && self.picks.len() < OUT_ROWS && bytes < OUT_BYTES {
            bytes += self.pick()?;
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
        for c in self.sources.iter_mut() {
            c.slot = usize::MAX;
        }
        Ok(Some(out))
    }

    /// Picks the winning row of the smallest key and moves past that key in every source;
    /// returns the text bytes of the picked row.
    fn pick(&mut self) -> anyhow::Result<usize> {
        let (sources, at) = (&mut self.sources, &mut self.at);
        at.clear();
        for (i, c) in sources.iter().enumerate() {
            match at.first() {
                Some(&m) if c.key() > sources[m].key() => {}
                Some(&m) if c.key() == sources[m].key() => at.push(i),
                _ => {
                    at.clear();
                    at.push(i);
                }
            }
        }
        let mut win = at[0];
        for &i in &at[1..] {
            if replaces(sources[i].state(), sources[win].state()) {
                win = i;
            }
        }
        let w = &mut sources[win];
        if w.slot == usize::MAX {
            w.slot = self.held.len();
            self.held.push(w.batch.clone());
        }
        self.picks.push((w.slot, w.pos));
        let bytes = text_len(&w.batch, self.raw, w.pos) + text_len(&w.batch, self.text, w.pos);
        for &i in at.iter().rev() {
            if !sources[i].advance()? {
                sources.remove(i);
            }
        }
        Ok(bytes)
    }
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
