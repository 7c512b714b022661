//! The sources of a merge: a cursor on each sorted source, positioned on one row, and the
//! binary heap that keeps the cursors in key order.

use anyhow::Context;
use arrow_array::cast::AsArray;
use arrow_array::{RecordBatch, StringArray};

use super::{schema, Batches};

/// One sorted source, positioned on a row.
pub(crate) struct Cursor {
    name: String,
    batches: Batches,
    /// The batch the cursor stands in.
    pub(super) batch: RecordBatch,
    bid: StringArray,
    cid: StringArray,
    state: StringArray,
    /// The current row of `batch`.
    pub(super) pos: usize,
    last: Option<(String, String)>,
    /// Where the merger holds `batch` among the batches of the merged batch being built
    /// (`usize::MAX`: not held).
    pub(super) slot: usize,
    /// The source's place in the merge, oldest first: breaks ties between equal keys.
    pub(super) age: usize,
}

impl Cursor {
    /// A cursor on the first row of `batches`; `None` when the source is empty. `name`
    /// names the source in errors.
    pub(crate) fn open(name: String, mut batches: Batches) -> anyhow::Result<Option<Cursor>> {
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

    pub(super) fn key(&self) -> (&str, &str) {
        (self.bid.value(self.pos), self.cid.value(self.pos))
    }

    pub(super) fn state(&self) -> &str {
        self.state.value(self.pos)
    }

    /// Moves to the next row; `false` at the end. Fails if the source is not strictly
    /// sorted by key (a file sail-export did not write).
    pub(super) fn advance(&mut self) -> anyhow::Result<bool> {
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
    pub(super) fn run_len(&self, bound: Option<(&str, &str)>, max: usize) -> usize {
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
    pub(super) fn skip(&mut self, n: usize) -> anyhow::Result<bool> {
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

/// Whether cursor `a` comes before `b`: a smaller key, or the same key in an older source.
pub(super) fn before(a: &Cursor, b: &Cursor) -> bool {
    (a.key(), a.age) < (b.key(), b.age)
}

/// Restores the heap order below `i` after the cursor at `i` moved forward.
pub(super) fn sift_down(heap: &mut [Cursor], mut i: usize) {
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
pub(super) fn sift_up(heap: &mut [Cursor], mut i: usize) {
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
pub(super) fn pop(heap: &mut Vec<Cursor>) -> Cursor {
    let c = heap.swap_remove(0);
    sift_down(heap, 0);
    c
}
