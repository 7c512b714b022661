//! The SQLite sink: upserts rows into `results` in one transaction per `write`, logs each
//! run in `runs`, and writes the bundled price table when it creates the export. An
//! existing database that is not an export is refused before a byte of it changes.

pub mod prices;
pub(crate) mod schema;

use std::path::Path;

use anyhow::Context;
use rusqlite::{params, Connection};

use self::schema::Found;
use super::failure::OutputError;
use super::{Existing, RunStart, Sink};
use crate::error::UsageError;
use crate::ids::{IdList, IdSet};
use crate::row::{BatchInfo, FetchState, Row};
use crate::summary::Summary;
use crate::time::now_unix;

/// A SQLite output file.
pub struct SqliteSink {
    conn: Connection,
    /// The path as given, for messages.
    shown: String,
    insert: String,
    run_id: Option<i64>,
}

/// `INSERT ... ON CONFLICT DO UPDATE` over every column, keeping a `fetched` row unless the
/// new one is `fetched` too (a failed refetch never destroys a good result).
pub(crate) fn upsert_sql() -> String {
    let names: Vec<&str> = Row::COLUMNS.iter().map(|c| c.name).collect();
    let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    // A run whose status read failed has no label: the one recorded before is kept.
    let sets: Vec<String> = names[2..]
        .iter()
        .map(|n| match *n {
            "batch_label" => format!("{n} = coalesce(excluded.{n}, results.{n})"),
            n => format!("{n} = excluded.{n}"),
        })
        .collect();
    format!(
        "INSERT INTO results ({}) VALUES ({}) ON CONFLICT (batch_id, custom_id) DO UPDATE SET {} \
         WHERE excluded.fetch_state = 'fetched' OR results.fetch_state <> 'fetched'",
        names.join(", "),
        marks.join(", "),
        sets.join(", ")
    )
}

/// Opens (creating and migrating) a SQLite export for writing. Every export carries the
/// price table its `result_costs` view reads: the prices in force (`prices::write_current`).
/// An existing file must be empty or an export already (see `check`).
pub fn open(path: &Path) -> anyhow::Result<Connection> {
    open_with(path, Existing::ExportsOnly)
}

/// [`open`], saying which existing databases may be written into.
pub(crate) fn open_with(path: &Path, existing: Existing) -> anyhow::Result<Connection> {
    check(path, existing)?;
    let mut conn = schema::open(path)?;
    prices::write_current(&mut conn)?;
    Ok(conn)
}

/// Refuses, reading only, a file that is not SQLite, an export made by a newer version,
/// and (unless `existing` allows any database) a database of someone else's: writing into
/// it would add five tables, a view and an index and switch it to WAL. No file, an empty
/// file and an export of ours (any number of batches) are fine.
pub(crate) fn check(path: &Path, existing: Existing) -> anyhow::Result<()> {
    match schema::inspect(path)? {
        Found::Empty => Ok(()),
        Found::Export(v) if v > schema::MIGRATIONS.len() => Err(schema::too_new(v)),
        Found::Export(_) => Ok(()),
        Found::Foreign { .. } if existing == Existing::AnyDatabase => Ok(()),
        Found::Foreign { objects, names } => Err(UsageError::new(format!(
            "'{}' is a SQLite database that sail-export did not make ({objects} tables, views \
             or indexes: {}{}); writing into it would add our tables and switch it to WAL. \
             Choose another output, or pass --allow-foreign-db to write into it anyway",
            path.display(),
            names.join(", "),
            if objects > names.len() { ", ..." } else { "" }
        ))
        .into()),
        Found::NotSqlite => Err(UsageError::new(format!(
            "'{}' exists and is not a SQLite file; choose another output or move it away",
            path.display()
        ))
        .into()),
    }
}

impl SqliteSink {
    /// Opens or creates the file and migrates it; an existing file must be an export.
    pub fn open(path: &Path) -> anyhow::Result<SqliteSink> {
        SqliteSink::open_with(path, Existing::ExportsOnly)
    }

    /// [`SqliteSink::open`], saying which existing databases may be written into.
    pub(crate) fn open_with(path: &Path, existing: Existing) -> anyhow::Result<SqliteSink> {
        Ok(SqliteSink {
            conn: open_with(path, existing)?,
            shown: path.display().to_string(),
            insert: upsert_sql(),
            run_id: None,
        })
    }

    /// Upserts rows through an open connection, in the caller's transaction.
    pub(crate) fn upsert(conn: &Connection, sql: &str, rows: &[Row]) -> rusqlite::Result<()> {
        let mut stmt = conn.prepare_cached(sql)?;
        for row in rows {
            stmt.execute(rusqlite::params_from_iter(row.cells()))?;
        }
        Ok(())
    }

    /// Sets the end, the counts and the outcome of this run's `runs` row.
    fn record_end(&self, s: &Summary) -> rusqlite::Result<()> {
        if let Some(id) = self.run_id {
            self.conn.execute(
                "UPDATE runs SET finished_at = ?2, total = ?3, skipped = ?4, fetched = ?5, pending = ?6, \
                 not_found = ?7, error = ?8, requests = ?9, retries = ?10, outcome = ?11 WHERE id = ?1",
                params![
                    id,
                    now_unix(),
                    s.total as i64,
                    s.skipped as i64,
                    s.fetched as i64,
                    s.pending as i64,
                    s.not_found as i64,
                    s.error as i64,
                    s.requests as i64,
                    s.retries as i64,
                    s.outcome(),
                ],
            )?;
        }
        Ok(())
    }
}

impl Sink for SqliteSink {
    fn fetched_ids(&mut self, batch_id: &str) -> anyhow::Result<IdSet> {
        let mut stmt = self.conn.prepare(
            "SELECT custom_id FROM results WHERE batch_id = ?1 AND fetch_state = 'fetched'",
        )?;
        let mut ids = IdList::new();
        let mut rows = stmt.query([batch_id])?;
        while let Some(row) = rows.next()? {
            ids.push(row.get_ref(0)?.as_str()?);
        }
        Ok(IdSet::from(ids))
    }

    fn lost_ids(&mut self, batch_id: &str) -> anyhow::Result<IdSet> {
        let mut stmt = self.conn.prepare(
            "SELECT custom_id, fetch_error FROM results WHERE batch_id = ?1 AND fetch_state = 'not_found'",
        )?;
        let mut ids = IdList::new();
        let mut rows = stmt.query([batch_id])?;
        while let Some(row) = rows.next()? {
            let error = row.get_ref(1)?.as_str_or_null()?;
            if crate::row::is_lost(FetchState::NotFound.as_str(), error) {
                ids.push(row.get_ref(0)?.as_str()?);
            }
        }
        Ok(IdSet::from(ids))
    }

    fn begin_run(&mut self, run: &RunStart) -> anyhow::Result<()> {
        self.conn
            .execute(
                "INSERT INTO runs (batch_id, started_at, tool_version, options_json) VALUES (?1, ?2, ?3, ?4)",
                params![run.batch_id, run.started_at, env!("CARGO_PKG_VERSION"), run.options_json],
            )
            .map_err(|e| OutputError::wrap(&self.shown, "recording the run", e.into()))?;
        self.run_id = Some(self.conn.last_insert_rowid());
        Ok(())
    }

    fn record_batch(&mut self, batch_id: &str, b: &BatchInfo) -> anyhow::Result<()> {
        self.conn
            .execute(
                "INSERT INTO batches (batch_id, label, created_at, request_counts, seen_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (batch_id) DO UPDATE SET \
                 label = excluded.label, created_at = excluded.created_at, \
                 request_counts = excluded.request_counts, seen_at = excluded.seen_at",
                params![
                    batch_id,
                    b.label,
                    b.created_at,
                    b.request_counts,
                    now_unix()
                ],
            )
            .map_err(|e| OutputError::wrap(&self.shown, "recording the run", e.into()))?;
        Ok(())
    }

    fn write(&mut self, rows: &[Row]) -> anyhow::Result<()> {
        let tx = self.conn.transaction();
        let committed = tx.map_err(anyhow::Error::from).and_then(|tx| {
            SqliteSink::upsert(&tx, &self.insert, rows).context("writing rows")?;
            tx.commit().context("committing rows")
        });
        committed.map_err(|e| OutputError::wrap(&self.shown, "committing rows", e))
    }

    fn finish(&mut self, s: &Summary) -> anyhow::Result<()> {
        self.record_end(s)
            .map_err(|e| OutputError::wrap(&self.shown, "recording the run", e.into()))?;
        // Fold the WAL back so the file is self-contained when the run ends.
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .ok();
        Ok(())
    }

    fn abandon(&mut self, s: &Summary) -> anyhow::Result<()> {
        Ok(self.record_end(s)?)
    }
}
