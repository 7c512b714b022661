//! The price table inside a SQLite export: `price_info`, `prices` and `window_aliases`
//! (migration 0002), read by the `result_costs` view.

use anyhow::Context;
use rusqlite::{params, Connection};

use crate::prices::PriceTable;
use crate::time::{day, now_unix};

/// Writes `table` into the export unless it already carries prices: a table the user has
/// edited (repriced) is theirs and is never overwritten. Returns whether it wrote.
pub(crate) fn write_if_missing(conn: &mut Connection, table: &PriceTable) -> anyhow::Result<bool> {
    let has: bool = conn
        .query_row("SELECT EXISTS (SELECT 1 FROM price_info)", [], |r| r.get(0))
        .context("reading the export's price_info")?;
    if has {
        return Ok(false);
    }
    let tx = conn.transaction()?;
    write(&tx, table).context("writing the price table into the export")?;
    tx.commit()?;
    Ok(true)
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
