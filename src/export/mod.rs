//! Reading exports back: telling what a path holds, opening a SQLite export read-only or
//! loading Parquet export(s) into a private temporary SQLite file with the same schema (so
//! one query serves both), and loading Parquet into a SQLite export ([`load`]).

pub(crate) mod columns;
pub(crate) mod inputs;
pub mod load;

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;

use self::inputs::Inputs;
use crate::store;
use rusqlite::Connection;
use tempfile::NamedTempFile;

use crate::error::UsageError;

/// What a path holds.
pub(crate) enum Export {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// Parquet: one file, the `*.parquet` files of a folder, or a dataset.
    Parquet(Inputs),
}

/// The columns the report reads; a file without them is not an export.
const NEEDED: &str = "SELECT batch_id, fetch_state, status, model, created_at, completion_window, \
    input_tokens, input_cached_tokens, output_tokens, output_reasoning_tokens, total_tokens, \
    prompt_tokens, completion_tokens FROM results LIMIT 0";

fn not_export(path: &Path, why: &str) -> anyhow::Error {
    UsageError::new(format!(
        "'{}' is not a sail-export export ({why}); give the .sqlite or .parquet file written by `sail-export fetch`",
        path.display()
    ))
    .into()
}

/// Decides what `path` is: a folder or an object storage URL is Parquet (its files, or a
/// dataset's, objects left in place), a file is told by its first bytes.
pub(crate) fn detect(path: &Path) -> anyhow::Result<Export> {
    if store::is_url(&path.to_string_lossy()) || path.is_dir() {
        return Ok(Export::Parquet(Inputs::locate(&[path.to_owned()])?));
    }
    let mut head = [0u8; 16];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| UsageError::new(format!("cannot read export '{}': {e}", path.display())))?;
    match &head[..n] {
        h if h.starts_with(b"SQLite format 3\0") => Ok(Export::Sqlite(path.to_owned())),
        h if h.starts_with(b"PAR1") => Ok(Export::Parquet(Inputs::locate(&[path.to_owned()])?)),
        _ => Err(not_export(path, "neither SQLite nor Parquet")),
    }
}

/// An export opened for reading; derefs to its SQLite connection. A Parquet export is held
/// in a temporary SQLite file, removed on drop: on disk rather than in memory, so pricing a
/// multi-GB Parquet export needs only SQLite's page cache.
pub struct ExportDb {
    conn: Connection,
    _scratch: Option<NamedTempFile>,
}

impl std::ops::Deref for ExportDb {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

/// Opens `path` for reading: the SQLite file itself (read-only, nothing is written; see
/// `schema::open_read_only`, which also serves a file in a folder the user cannot write), or a
/// temporary SQLite file migrated like an export and filled from the Parquet file(s).
pub fn open(path: &Path) -> anyhow::Result<ExportDb> {
    let mut scratch = None;
    let conn = match detect(path)? {
        Export::Sqlite(p) => {
            let conn = crate::sink::sqlite::schema::open_read_only(&p)
                .map_err(|e| UsageError::new(format!("{e:#}")))?;
            // Reports scan the whole table: map it instead of copying it page by page.
            conn.pragma_update(None, "mmap_size", 1i64 << 34).ok();
            conn
        }
        Export::Parquet(inputs) => {
            // Objects are read from local copies here.
            let inputs = match inputs.stores.is_empty() {
                true => inputs,
                false => Inputs::resolve(&[path.to_owned()])?,
            };
            let in_tmp = || {
                format!(
                    "creating a temporary file in '{}'",
                    std::env::temp_dir().display()
                )
            };
            let tmp = tempfile::Builder::new()
                .prefix(".sail-export-cost-")
                .suffix(".sqlite")
                .tempfile()
                .with_context(in_tmp)?;
            let mut conn = Connection::open(tmp.path()).with_context(in_tmp)?;
            scratch = Some(tmp);
            // A throwaway copy: no journal, no fsync.
            conn.pragma_update(None, "journal_mode", "OFF")?;
            conn.pragma_update(None, "synchronous", "OFF")?;
            crate::sink::sqlite::schema::migrate(&mut conn)?;
            load::load(&mut conn, &inputs)
                .with_context(|| format!("reading Parquet export '{}'", path.display()))?;
            conn
        }
    };
    if let Err(e) = conn.prepare(NEEDED) {
        return Err(not_export(
            path,
            &format!("no results table with usage columns: {e}"),
        ));
    }
    Ok(ExportDb {
        conn,
        _scratch: scratch,
    })
}

/// Checks that `batch` has rows in the opened export at `path`: a typo in `--batch` would
/// otherwise print an empty report. The error lists a few batches the export holds.
pub(crate) fn check_batch(conn: &Connection, batch: &str, path: &Path) -> anyhow::Result<()> {
    let found: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM results WHERE batch_id = ?1)",
        [batch],
        |r| r.get(0),
    )?;
    if found {
        return Ok(());
    }
    let mut stmt = conn.prepare("SELECT DISTINCT batch_id FROM results ORDER BY 1 LIMIT 6")?;
    let ids: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let have = if ids.is_empty() {
        "it has no rows".to_owned()
    } else {
        format!("it holds {}", ids.join(", "))
    };
    Err(UsageError::new(format!(
        "--batch '{batch}' has no rows in '{}'; {have}",
        path.display()
    ))
    .into())
}
