//! Which batches an output already holds complete, so that `sync` skips them without a
//! request: a dataset's completion markers, or a file's fetched and final `not_found` rows
//! per batch (read once, three columns).

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::anyhow;

use super::parquet::schema::{self, Column};
use crate::row::{is_lost, Cell, FetchState, Row, GONE, NOT_IN_BATCH};
use crate::store::layout;
use crate::store::Store;

/// Per batch: its fetched rows and its final `not_found` (lost) rows.
pub(crate) type Counts = HashMap<String, (u64, u64)>;

/// The batches an output holds complete.
pub(crate) enum Completed {
    /// A dataset: a batch is complete when its marker is there.
    Markers(Store),
    /// A file: per batch, its fetched rows and its final `not_found` ones (lost); complete
    /// when together they reach the batch's total.
    Counts(Counts),
}

impl Completed {
    /// `Some(lost)` when `batch_id` is complete in the output, `lost` of its ids gone for
    /// good (a dataset: its marker, which counts them; a file: as many fetched and final
    /// `not_found` rows as `total`, the batch's count of requests; without a count, not
    /// known, so not complete — which then requests nothing it has). With `retry_lost`, a
    /// batch with losses is not complete: its lost ids are requested again. Blocks.
    pub(crate) fn has(
        &self,
        batch_id: &str,
        total: Option<u64>,
        retry_lost: bool,
    ) -> anyhow::Result<Option<u64>> {
        let lost = match self {
            Completed::Markers(store) => {
                let Some(marker) = store.get(&layout::complete_marker(batch_id))? else {
                    return Ok(None);
                };
                let marker: serde_json::Value = serde_json::from_slice(&marker).unwrap_or_default();
                marker["lost"].as_u64().unwrap_or(0)
            }
            Completed::Counts(counts) => {
                let (fetched, lost) = counts.get(batch_id).copied().unwrap_or((0, 0));
                match total {
                    Some(t) if t > 0 && fetched + lost >= t => lost,
                    _ => return Ok(None),
                }
            }
        };
        Ok((!retry_lost || lost == 0).then_some(lost))
    }
}

/// Per batch of a SQLite export, its fetched and final `not_found` rows (read-only).
pub(crate) fn sqlite_counts(path: &Path) -> anyhow::Result<Counts> {
    let db = super::sqlite::schema::open_read_only(path)?;
    // The final `not_found` rows, as `row::is_lost` tells them.
    let lost = format!(
        "fetch_state = 'not_found' AND (substr(fetch_error, 1, {}) = '{GONE}' \
         OR substr(fetch_error, 1, {}) = '{NOT_IN_BATCH}')",
        GONE.len(),
        NOT_IN_BATCH.len()
    );
    let mut stmt = db.prepare(&format!(
        "SELECT batch_id, count(*) FILTER (WHERE fetch_state = 'fetched'), \
         count(*) FILTER (WHERE {lost}) FROM results GROUP BY 1"
    ))?;
    let counts = stmt
        .query_map([], |r| {
            let n = |i| r.get::<_, i64>(i).map(|n| n as u64);
            Ok((r.get::<_, String>(0)?, (n(1)?, n(2)?)))
        })?
        .collect::<rusqlite::Result<Counts>>()?;
    Ok(counts)
}

/// Per batch of a Parquet export, its fetched and final `not_found` rows, read in place
/// (three columns, no copy).
pub(crate) fn parquet_counts(path: &Path) -> anyhow::Result<Counts> {
    const NAMES: [&str; 3] = ["batch_id", "fetch_state", "fetch_error"];
    let shown = path.display().to_string();
    let at: OnceLock<Vec<usize>> = OnceLock::new();
    let choose = |file: &arrow_schema::Schema| {
        let proj = schema::project(file)
            .map_err(|e| anyhow!("'{shown}' is not a sail-export Parquet export: {e}"))?;
        let idx: Vec<usize> = NAMES
            .iter()
            .map(|n| proj[schema::index_of(n)].ok_or_else(|| anyhow!("'{shown}' lacks {n}")))
            .collect::<anyhow::Result<_>>()?;
        let mut roots = idx.clone();
        roots.sort_unstable();
        // A projected batch holds its columns in file order.
        let pos = idx
            .iter()
            .map(|i| roots.binary_search(i).expect("a chosen root"))
            .collect();
        at.set(pos).map_err(|_| anyhow!("one schema per file"))?;
        Ok(roots)
    };
    let mut counts = Counts::new();
    let mut each = |batch: arrow_array::RecordBatch| {
        let pos = at.get().expect("chosen before the first batch");
        let cols = pos
            .iter()
            .zip(NAMES)
            .map(|(p, n)| {
                let kind = Row::COLUMNS[schema::index_of(n)].kind;
                Column::of(kind, batch.column(*p).as_ref())
                    .map_err(|e| anyhow!("'{shown}': column '{n}' {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        for r in 0..batch.num_rows() {
            let text = |i: usize| match cols[i].cell(r) {
                Cell::Text(s) => Some(s),
                _ => None,
            };
            let Some(batch) = text(0) else { continue };
            let state = text(1).unwrap_or_default();
            let fetched = state == FetchState::Fetched.as_str();
            let lost = is_lost(state, text(2));
            if !(fetched || lost) && counts.contains_key(batch) {
                continue;
            }
            let n = counts.entry(batch.to_owned()).or_default();
            n.0 += u64::from(fetched);
            n.1 += u64::from(lost);
        }
        Ok(())
    };
    crate::store::read::stream_columns(path, &choose, &mut each)?;
    Ok(counts)
}
