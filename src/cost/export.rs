//! Opening an export for reading: a SQLite file read-only, or Parquet file(s) loaded into a
//! private temporary SQLite file with the same schema, so one query serves both.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};

use crate::error::UsageError;

/// What a path holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Export {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// One Parquet file, or every `*.parquet` file of a directory.
    Parquet(Vec<PathBuf>),
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

/// Decides what `path` is from its first bytes (directories: the Parquet files in them).
pub fn detect(path: &Path) -> anyhow::Result<Export> {
    let meta = std::fs::metadata(path)
        .map_err(|e| UsageError::new(format!("cannot read export '{}': {e}", path.display())))?;
    if meta.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("listing '{}'", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("parquet"))
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(not_export(path, "a directory with no .parquet files"));
        }
        return Ok(Export::Parquet(files));
    }
    let mut head = [0u8; 16];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| UsageError::new(format!("cannot read export '{}': {e}", path.display())))?;
    match &head[..n] {
        h if h.starts_with(b"SQLite format 3\0") => Ok(Export::Sqlite(path.to_owned())),
        h if h.starts_with(b"PAR1") => Ok(Export::Parquet(vec![path.to_owned()])),
        _ => Err(not_export(path, "neither SQLite nor Parquet")),
    }
}

/// An export opened for reading; derefs to its SQLite connection.
pub struct ExportDb {
    conn: Connection,
    _scratch: Option<Scratch>,
}

impl std::ops::Deref for ExportDb {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

/// A temporary SQLite file holding a Parquet export for the report, removed on drop. On disk
/// rather than in memory, so pricing a multi-GB Parquet export needs only SQLite's page cache.
struct Scratch(PathBuf);

impl Scratch {
    fn create() -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(".sail-export-cost-{}-{nanos}.sqlite", std::process::id());
        Scratch(std::env::temp_dir().join(name))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Opens `path` for reading: the SQLite file itself (read-only, nothing is written), or a
/// temporary SQLite file migrated like an export and filled from the Parquet file(s).
pub fn open(path: &Path) -> anyhow::Result<ExportDb> {
    let mut scratch = None;
    let conn = match detect(path)? {
        Export::Sqlite(p) => {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn = Connection::open_with_flags(&p, flags).map_err(|e| {
                UsageError::new(format!("cannot open export '{}': {e}", p.display()))
            })?;
            // Reports scan the whole table: map it instead of copying it page by page.
            conn.pragma_update(None, "mmap_size", 1i64 << 34).ok();
            conn
        }
        Export::Parquet(files) => {
            let tmp = scratch.insert(Scratch::create());
            let mut conn = Connection::open(&tmp.0).with_context(|| {
                format!(
                    "creating a temporary file in '{}'",
                    std::env::temp_dir().display()
                )
            })?;
            // A throwaway copy: no journal, no fsync.
            conn.pragma_update(None, "journal_mode", "OFF")?;
            conn.pragma_update(None, "synchronous", "OFF")?;
            crate::db::migrate(&mut conn)?;
            crate::load::into_sqlite(&mut conn, &files)
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
