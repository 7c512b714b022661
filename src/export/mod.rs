//! Reading exports back: telling what a path holds, opening a SQLite export read-only,
//! reading Parquet exports in place (`columns`), and loading Parquet into a SQLite export
//! ([`load`]). Nothing here copies an export to read it.

pub(crate) mod columns;
pub(crate) mod inputs;
pub mod load;

use std::io::Read;
use std::path::{Path, PathBuf};

use self::inputs::Inputs;
use crate::store;
use rusqlite::Connection;

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

/// A SQLite export opened for reading; derefs to its connection.
pub struct ExportDb {
    conn: Connection,
}

impl std::ops::Deref for ExportDb {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

/// Opens the SQLite export at `path` for reading, read-only: nothing is written (see
/// `schema::open_read_only`, which also serves a file in a folder the user cannot write).
/// Parquet is never copied into SQLite to be read: a Parquet `path` is an error here, and
/// its readers use `columns`.
pub fn open(path: &Path) -> anyhow::Result<ExportDb> {
    let Export::Sqlite(p) = detect(path)? else {
        return Err(not_export(path, "Parquet, where a SQLite export is needed"));
    };
    let conn = crate::sink::sqlite::schema::open_read_only(&p)
        .map_err(|e| UsageError::new(format!("{e:#}")))?;
    // Reports scan the whole table: map it instead of copying it page by page.
    conn.pragma_update(None, "mmap_size", 1i64 << 34).ok();
    if let Err(e) = conn.prepare(NEEDED) {
        return Err(not_export(
            path,
            &format!("no results table with usage columns: {e}"),
        ));
    }
    Ok(ExportDb { conn })
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
