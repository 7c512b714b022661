//! The price table inside a SQLite export: `price_info`, `prices` and `window_aliases`
//! (migration 0002), read by the `result_costs` view.

use anyhow::Context;
use rusqlite::{params, Connection};

use crate::prices::PriceTable;
use crate::time::{day, now_unix};

/// Writes the prices in force (the bundled history and the prices folder) into the export
/// when it carries none, or when the table it carries is one this program wrote from an
/// older state of the prices folder (so `prices update` reaches the view of an export the
/// next time it is written to). A table the user has edited (repriced) matches none of
/// those: it is theirs and is never overwritten. Returns whether it wrote.
pub(crate) fn write_current(conn: &mut Connection) -> anyhow::Result<bool> {
    let has: bool = conn
        .query_row("SELECT EXISTS (SELECT 1 FROM price_info)", [], |r| r.get(0))
        .context("reading the export's price_info")?;
    let mut versions = PriceTable::installed_versions()?;
    let Some(current) = versions.pop() else {
        return Ok(false);
    };
    if has {
        let stored = stored(conn).context("reading the export's price table")?;
        let ours_and_older = versions.iter().any(|t| snapshot(t) == stored);
        if !ours_and_older {
            return Ok(false);
        }
    }
    let tx = conn.transaction()?;
    write(&tx, &current).context("writing the price table into the export")?;
    tx.commit()?;
    Ok(true)
}

/// A price table as the export holds it: entries, aliases, default window.
type Snapshot = (Vec<StoredEntry>, Vec<(String, String)>, String);
/// model, window, effective_from, input, cached_input, output, version.
type StoredEntry = (String, String, Option<String>, f64, f64, f64, String);

/// What [`write`] would store for `table`, in the order [`stored`] reads it.
fn snapshot(table: &PriceTable) -> Snapshot {
    let entries = table
        .entries()
        .into_iter()
        .map(|e| {
            let rates = (e.input.usd(), e.cached_input.usd(), e.output.usd());
            let from = e.from.map(day::format);
            (
                e.model.clone(),
                e.window.clone(),
                from,
                rates.0,
                rates.1,
                rates.2,
                e.version.clone(),
            )
        })
        .collect();
    let aliases = table.aliases.clone().into_iter().collect();
    (entries, aliases, table.default_window().to_owned())
}

/// The export's price table.
fn stored(conn: &Connection) -> rusqlite::Result<Snapshot> {
    let mut stmt = conn.prepare(
        "SELECT model, completion_window, effective_from, input, cached_input, output, version \
         FROM prices ORDER BY model, completion_window, effective_from",
    )?;
    let entries = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<StoredEntry>>>()?;
    let mut stmt =
        conn.prepare("SELECT alias, completion_window FROM window_aliases ORDER BY alias")?;
    let aliases = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<(String, String)>>>()?;
    let default_window =
        conn.query_row("SELECT default_window FROM price_info", [], |r| r.get(0))?;
    Ok((entries, aliases, default_window))
}

/// Replaces the export's price tables with `table`, in the caller's transaction.
pub fn write(conn: &Connection, table: &PriceTable) -> rusqlite::Result<()> {
    conn.execute_batch("DELETE FROM prices; DELETE FROM window_aliases; DELETE FROM price_info;")?;
    let versions: Vec<&str> = table.layers.iter().map(|o| o.version.as_str()).collect();
    conn.execute(
        "INSERT INTO price_info (id, version, source, default_window, written_at) VALUES (1, ?1, ?2, ?3, ?4)",
        params![
            versions.join(" + "),
            table.source(),
            table.default_window(),
            now_unix()
        ],
    )?;
    let mut ins = conn.prepare(
        "INSERT INTO prices (model, completion_window, effective_from, input, cached_input, output, version) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for e in table.entries() {
        ins.execute(params![
            e.model,
            e.window,
            e.from.map(day::format),
            e.input.usd(),
            e.cached_input.usd(),
            e.output.usd(),
            e.version
        ])?;
    }
    let mut alias =
        conn.prepare("INSERT INTO window_aliases (alias, completion_window) VALUES (?1, ?2)")?;
    for (a, w) in &table.aliases {
        alias.execute(params![a, w])?;
    }
    Ok(())
}
