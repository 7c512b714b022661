//! Reads the columns a report needs from Parquet exports in place: a file, a folder of
//! them, a dataset on disk or on object storage (by range requests), batch by batch, only
//! those columns' pages. Nothing is copied or written; memory holds a batch at a time.

use std::sync::OnceLock;

use anyhow::anyhow;
use arrow_array::RecordBatch;

use super::inputs::{Inputs, Source};
use crate::error::UsageError;
use crate::row::Row;
use crate::sink::parquet::schema::{self, Column};

/// Some rows of one file, seen through the columns asked for.
pub(crate) struct Chunk<'a> {
    /// One accessor per name asked for, in that order; `Column::Absent` for a column the
    /// file predates (see `schema::ADDED_LATER`) and for `batch_id` in a dataset file.
    pub(crate) cols: Vec<Column<'a>>,
    /// Rows in the chunk.
    pub(crate) rows: usize,
    /// A dataset file's batch, which its folder names.
    pub(crate) batch_id: Option<&'a str>,
}

/// Where each column asked for is in the file's batches, once checked that the file is
/// an export (the same check and message as `load`).
fn positions(
    file: &arrow_schema::Schema,
    f: &Source,
    names: &[&str],
) -> anyhow::Result<(Vec<usize>, Vec<Option<usize>>)> {
    let dataset = f.batch_id.is_some();
    let proj = if dataset {
        schema::project(&schema::with_batch_id_field(file)).map_err(|e| {
            UsageError::new(format!(
                "'{}' is not a file of a sail-export dataset: {e}",
                f.shown
            ))
        })?
    } else {
        schema::project(file).map_err(|e| {
            UsageError::new(format!(
                "'{}' is not a sail-export Parquet export: {e}",
                f.shown
            ))
        })?
    };
    // Index in the file of each name (a dataset file's indices are one less: its batch_id
    // comes from the folder).
    let at: Vec<Option<usize>> = names
        .iter()
        .map(|n| {
            let i = proj[schema::index_of(n)]?;
            if dataset {
                i.checked_sub(1)
            } else {
                Some(i)
            }
        })
        .collect();
    let mut roots: Vec<usize> = at.iter().flatten().copied().collect();
    roots.sort_unstable();
    roots.dedup();
    // A projected batch holds its columns in file order.
    let pos = at
        .iter()
        .map(|i| i.map(|i| roots.binary_search(&i).expect("a chosen root")))
        .collect();
    Ok((roots, pos))
}

/// Calls `each` with every batch of every file of `inputs`, seen through `names` (columns
/// of `Row::COLUMNS`).
pub(crate) fn read(
    inputs: &Inputs,
    names: &[&str],
    each: &mut (dyn FnMut(&Chunk<'_>) -> anyhow::Result<()> + Send),
) -> anyhow::Result<()> {
    let kinds: Vec<_> = names
        .iter()
        .map(|n| Row::COLUMNS[schema::index_of(n)].kind)
        .collect();
    for f in &inputs.files {
        let pos: OnceLock<Vec<Option<usize>>> = OnceLock::new();
        let choose = |file: &arrow_schema::Schema| {
            let (roots, p) = positions(file, f, names)?;
            pos.set(p).map_err(|_| anyhow!("one schema per file"))?;
            Ok(roots)
        };
        let mut per_batch = |batch: RecordBatch| {
            let pos = pos.get().expect("chosen before the first batch");
            let cols = pos
                .iter()
                .zip(&kinds)
                .zip(names)
                .map(|((p, kind), name)| match p {
                    None => Ok(Column::Absent),
                    Some(p) => Column::of(*kind, batch.column(*p).as_ref()).map_err(|e| {
                        UsageError::new(format!("'{}': column '{name}' {e}", f.shown)).into()
                    }),
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            each(&Chunk {
                cols,
                rows: batch.num_rows(),
                batch_id: f.batch_id.as_deref(),
            })
        };
        match f.object {
            Some(store) => {
                let rel = f.path.to_string_lossy();
                inputs.stores[store].stream_columns(&rel, &choose, &mut per_batch)?
            }
            None => crate::store::read::stream_columns(&f.path, &choose, &mut per_batch)?,
        }
    }
    Ok(())
}
