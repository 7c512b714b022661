//! The SQLite export's schema: opening the file with the pragmas we rely on, and applying the embedded
//! migrations in order, tracked by `PRAGMA user_version`.

use std::path::Path;

use anyhow::{bail, Context};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};

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
];

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
        bail!(
            "the file has schema version {current}, newer than this sail-export knows ({}); \
             upgrade sail-export",
            MIGRATIONS.len()
        );
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
