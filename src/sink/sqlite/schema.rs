//! The SQLite export's schema: recognising an export without writing to it, opening the
//! file with the pragmas we rely on, and applying the embedded migrations in order, tracked
//! by `PRAGMA user_version`.

use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, Context};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};

use crate::row::Cell;

/// Every migration, in order; the file at index `i` brings `user_version` to `i + 1`.
pub(crate) const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../../migrations/0001_init.sql"),
    ),
    (
        "0002_prices",
        include_str!("../../../migrations/0002_prices.sql"),
    ),
    (
        "0003_compat",
        include_str!("../../../migrations/0003_compat.sql"),
    ),
    (
        "0004_dropped_fields",
        include_str!("../../../migrations/0004_dropped_fields.sql"),
    ),
    (
        "0005_batches",
        include_str!("../../../migrations/0005_batches.sql"),
    ),
];

/// What an output path holds before anything is written to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    /// No file, an empty file, or a SQLite database without any table, view or index.
    Empty,
    /// A sail-export export at this schema version.
    Export(usize),
    /// Someone else's SQLite database: how many schema objects, and the first few names.
    Foreign {
        /// Tables, views, indexes and triggers in it.
        objects: usize,
        /// The names of the first few.
        names: Vec<String>,
    },
    /// A file that is not a SQLite database.
    NotSqlite,
}

/// Says what `path` holds, reading only: no journal, WAL or shared-memory file is left
/// behind and the file's bytes are unchanged.
///
/// An export is recognised by a schema version (`user_version`) of at least 1, a `runs`
/// table and a `results` table with our key columns: we set the version in the same
/// transaction that creates the tables, and a database of someone else's has no reason to
/// hold all three.
pub(crate) fn inspect(path: &Path) -> anyhow::Result<Found> {
    let mut header = Vec::with_capacity(100);
    match std::fs::File::open(path) {
        Ok(f) => f.take(100).read_to_end(&mut header),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Empty),
        Err(e) => return Err(e).with_context(|| format!("cannot read '{}'", path.display())),
    }
    .with_context(|| format!("cannot read '{}'", path.display()))?;
    if header.is_empty() {
        return Ok(Found::Empty);
    }
    if header.len() < 100 || !header.starts_with(b"SQLite format 3\0") {
        return Ok(Found::NotSqlite);
    }
    let conn = open_untouched(path, header[18] == 2 && header[19] == 2)?;
    let read = || -> rusqlite::Result<Found> {
        let mut stmt = conn.prepare("SELECT name FROM sqlite_master ORDER BY rowid")?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        if names.is_empty() {
            return Ok(Found::Empty);
        }
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let ours: bool = conn.query_row(
            "SELECT (SELECT count(*) FROM pragma_table_info('results') \
                     WHERE name IN ('batch_id', 'custom_id', 'fetch_state')) = 3 \
                AND EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs')",
            [],
            |r| r.get(0),
        )?;
        Ok(match ours && version >= 1 {
            true => Found::Export(version as usize),
            false => Found::Foreign {
                objects: names.len(),
                names: names.into_iter().take(5).collect(),
            },
        })
    };
    read().map_err(|e| anyhow!("cannot read '{}' as a SQLite file: {e}", path.display()))
}

/// A read-only connection that writes nothing beside the file. A database in WAL mode
/// would get `-wal` and `-shm` files from a plain read-only open, so when it has no WAL
/// content (no `-wal` file, or an empty one: the main file is then complete) it is opened
/// `immutable`; one with WAL content already has those files.
fn open_untouched(path: &Path, wal_mode: bool) -> anyhow::Result<Connection> {
    let mode = if wal_mode && !wal_content(path) {
        "immutable=1"
    } else {
        "mode=ro"
    };
    open_uri(path, mode).with_context(|| format!("cannot open '{}' to read it", path.display()))
}

/// Whether `path` has a `-wal` file with content: commits the main file does not hold yet.
fn wal_content(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0)
}

/// Opens `path` read-only with the URI parameter `param` (`mode=ro`, `immutable=1`).
fn open_uri(path: &Path, param: &str) -> rusqlite::Result<Connection> {
    const URI_PATH: &AsciiSet = &CONTROLS.add(b'%').add(b'?').add(b'#');
    let uri = format!(
        "file:{}?{param}",
        utf8_percent_encode(&path.to_string_lossy(), URI_PATH)
    );
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags(&uri, flags)
}

/// Opens a SQLite export for a report, reading only, so it works on a file the user cannot
/// write. `mode=ro` first: SQLite's locks then keep the report consistent while another
/// process writes the export. A WAL-mode file in a folder the user cannot write cannot get
/// the `-shm` file such a reader needs; when its WAL holds nothing (no `-wal` file, or an
/// empty one) the main file is complete and no writer is at work (a writer's WAL has
/// content from its first commit until its last checkpoint), so it is read `immutable`.
pub(crate) fn open_read_only(path: &Path) -> anyhow::Result<Connection> {
    let probe = |conn: &Connection| {
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
    };
    let first = open_uri(path, "mode=ro").and_then(|conn| probe(&conn).map(|_| conn));
    let err = match first {
        Ok(conn) => return Ok(conn),
        Err(e) => e,
    };
    let cannot_share = matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly)
    );
    if cannot_share && !wal_content(path) {
        if let Ok(conn) = open_uri(path, "immutable=1") {
            if probe(&conn).is_ok() {
                return Ok(conn);
            }
        }
    }
    let why = match cannot_share && wal_content(path) {
        true => format!(
            "its folder cannot be written and its '-wal' file holds commits not yet in the              file ({err}); let the run writing it finish, or open it once where the folder              can be written"
        ),
        false => err.to_string(),
    };
    Err(anyhow!("cannot read '{}': {why}", path.display()))
}

/// Opens (creating if needed) a SQLite file in WAL mode and migrates it to the newest schema.
pub(crate) fn open(path: &Path) -> anyhow::Result<Connection> {
    let mut conn = Connection::open(path).with_context(|| {
        format!(
            "cannot open SQLite file '{}' (check -o/--out)",
            path.display()
        )
    })?;
    configure(&conn)
        .with_context(|| format!("cannot use '{}' as a SQLite file", path.display()))?;
    migrate(&mut conn).with_context(|| format!("migrating '{}'", path.display()))?;
    Ok(conn)
}

/// WAL with `synchronous=NORMAL`: a committed transaction survives a killed process, and a
/// crash mid-transaction rolls back cleanly.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // 64 KiB pages for a new file (an existing one keeps its own; WAL must come after):
    // a ~3 KB row then fills a page with a dozen others instead of spilling into overflow
    // pages, which cut the writer's CPU by about a sixth (docs/design.md).
    conn.pragma_update(None, "page_size", 65536)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Applies every migration newer than the file's `user_version`, each in its own transaction.
pub(crate) fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let current: usize =
        conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))? as usize;
    if current > MIGRATIONS.len() {
        return Err(too_new(current));
    }
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .with_context(|| format!("applying migration {name}"))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// The error for an export made by a newer sail-export.
pub(crate) fn too_new(version: usize) -> anyhow::Error {
    anyhow!(
        "the file has schema version {version}, newer than this sail-export knows ({}); \
         upgrade sail-export",
        MIGRATIONS.len()
    )
}

impl ToSql for Cell<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Cell::Null => ValueRef::Null,
            Cell::Text(s) => ValueRef::Text(s.as_bytes()),
            Cell::Int(i) => ValueRef::Integer(i),
            Cell::Real(f) => ValueRef::Real(f),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::Row;

    #[test]
    fn results_table_matches_the_column_list() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("t.sqlite")).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT name, type, \"notnull\" FROM pragma_table_info('results') ORDER BY cid",
            )
            .unwrap();
        let cols: Vec<(String, String, bool)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(cols.len(), Row::COLUMNS.len());
        for ((name, ty, notnull), col) in cols.iter().zip(Row::COLUMNS) {
            assert_eq!(name, col.name);
            let want = match col.kind {
                crate::row::Kind::Text => "TEXT",
                crate::row::Kind::Int | crate::row::Kind::Time => "INTEGER",
                crate::row::Kind::Real => "REAL",
            };
            assert_eq!(ty, want, "type of {name}");
            assert_eq!(*notnull, !col.nullable, "nullability of {name}");
        }
    }

    #[test]
    fn reopening_is_idempotent_and_newer_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        drop(open(&path).unwrap());
        let conn = open(&path).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, MIGRATIONS.len());
        conn.pragma_update(None, "user_version", 999).unwrap();
        drop(conn);
        let err = open(&path).unwrap_err();
        assert!(format!("{err:#}").contains("newer"), "{err:#}");
    }
}
