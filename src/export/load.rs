//! Loading Parquet exports into SQLite: row group by row group, validated against `Row::COLUMNS`,
//! upserted into a SQLite export by the SQLite sink's rule, all in one transaction.

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;

use anyhow::Context;
use rusqlite::Connection;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::inputs::{Inputs, Source};
use crate::error::UsageError;
use crate::row::{Cell, FetchState};
use crate::sink::parquet::schema::View;
use crate::sink::parquet::{self as pq, schema};
use crate::sink::sqlite::upsert_sql;

/// Loads Parquet exports (files, folders of them, datasets on disk or object storage) into
/// an open, migrated SQLite connection, upserting on `(batch_id, custom_id)` (a `fetched`
/// row is never replaced by a non-fetched one; later files win over earlier ones); returns
/// the number of rows read. Every file is checked before anything is written, and the whole
/// load is one transaction: on any error (a `UsageError` naming the file and the column for
/// bad input) the database is unchanged.
pub fn into_sqlite(conn: &mut Connection, files: &[PathBuf]) -> anyhow::Result<u64> {
    load(conn, &Inputs::resolve(files)?)
}

/// [`into_sqlite`] for inputs already resolved.
pub(crate) fn load(conn: &mut Connection, inputs: &Inputs) -> anyhow::Result<u64> {
    check(inputs)?;
    let sql = upsert_sql();
    let tx = conn
        .transaction()
        .context("starting the load transaction")?;
    let mut total = 0u64;
    let mut labels = HashMap::new();
    for f in &inputs.files {
        total += load_file(&tx, &sql, f, &mut labels)?;
    }
    record_labels(&tx, &labels)?;
    tx.commit().context("committing the load")?;
    Ok(total)
}

/// Checks that every file is a Parquet file with the export columns (names and types),
/// without reading its rows; the error names the file and the column.
pub(crate) fn check(inputs: &Inputs) -> anyhow::Result<()> {
    for f in &inputs.files {
        open(f)?;
    }
    Ok(())
}

/// Opens one file for reading, with where each export column is in its batches (a dataset
/// file's batches get `batch_id` put back in front).
fn open(f: &Source) -> anyhow::Result<(ParquetRecordBatchReaderBuilder<File>, Vec<Option<usize>>)> {
    if f.batch_id.is_none() {
        return pq::open_export(&f.path, false);
    }
    pq::open_dataset_file(&f.path, &f.shown, false)
}

/// Gives each batch a `batches` row with the label its rows carry (`batch_label`), so that
/// `cost --by label` names it from that table alone; a batch the table has a label for
/// already (from the API, by a `fetch`) keeps it.
fn record_labels(conn: &Connection, labels: &HashMap<String, String>) -> anyhow::Result<()> {
    let mut stmt = conn.prepare(
        "INSERT INTO batches (batch_id, label, seen_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (batch_id) DO UPDATE SET label = excluded.label WHERE batches.label IS NULL",
    )?;
    for (batch, label) in labels {
        stmt.execute(rusqlite::params![batch, label, crate::time::now_unix()])
            .context("recording the batches' labels")?;
    }
    Ok(())
}

/// Upserts every row of one file through `conn` (inside the caller's transaction), noting
/// the first label of each batch in `labels`.
fn load_file(
    conn: &Connection,
    sql: &str,
    f: &Source,
    labels: &mut HashMap<String, String>,
) -> anyhow::Result<u64> {
    let path = f.shown.as_str();
    let (builder, proj) = open(f)?;
    let reader = builder
        .with_batch_size(pq::READ_BATCH_ROWS)
        .build()
        .with_context(|| format!("reading '{path}'"))?;
    let mut stmt = conn.prepare_cached(sql)?;
    let state = schema::index_of("fetch_state");
    let label = schema::index_of("batch_label");
    let mut n = 0u64;
    for batch in reader {
        let batch = batch
            .map_err(|e| UsageError::new(format!("'{path}' cannot be read as Parquet: {e}")))?;
        let batch = match &f.batch_id {
            Some(id) => schema::with_batch_id(batch, id)?,
            None => batch,
        };
        let view =
            View::new(&batch, &proj).map_err(|e| UsageError::new(format!("'{}': {e}", path)))?;
        for i in 0..batch.num_rows() {
            let cells = view.cells(i);
            if let Cell::Text(s) = cells[state] {
                if FetchState::parse(s).is_none() {
                    return Err(UsageError::new(format!(
                        "'{}': column 'fetch_state' holds '{s}' at row {}; expected one of fetched, pending, not_found, error",
                        path,
                        n + 1
                    ))
                    .into());
                }
            }
            if let (Cell::Text(b), Cell::Text(l)) = (cells[0], cells[label]) {
                if !labels.contains_key(b) {
                    labels.insert(b.to_owned(), l.to_owned());
                }
            }
            stmt.execute(rusqlite::params_from_iter(cells))
                .with_context(|| format!("loading row {} of '{}'", n + 1, path))?;
            n += 1;
        }
    }
    Ok(n)
}
