//! `sail-export cost`: prices an export and prints the report; `--strict` turns unpriced
//! requests into exit code 3.

use anyhow::Context;

use crate::cli::CostArgs;
use crate::cost::{export, render, report, Key, PriceTable};
use crate::error::{exit, UsageError};

/// Runs `cost`; returns the exit code: 0, or 3 with `--strict` when any request is unpriced.
pub fn run(args: CostArgs) -> anyhow::Result<i32> {
    run_to(args, &mut std::io::stdout().lock())
}

/// Runs `cost`, writing the report to `out` (stdout for the command).
pub fn run_to(args: CostArgs, out: &mut dyn std::io::Write) -> anyhow::Result<i32> {
    let keys = parse_keys(&args.by)?;
    let prices = PriceTable::load(args.prices.as_deref())?;
    let conn = export::open(&args.path)?;
    if let Some(batch) = &args.batch {
        check_batch(&conn, batch, &args.path)?;
    }
    let report = report::build(&conn, &prices, &keys, args.batch.as_deref())?;
    out.write_all(render::render(&report, &prices, args.format)?.as_bytes())
        .context("writing the report")?;
    let unpriced = report.total.unpriced_requests();
    if args.strict && unpriced > 0 {
        eprintln!(
            "error: --strict: {unpriced} of {} requests are unpriced; add their prices with --prices FILE",
            report.total.requests
        );
        return Ok(exit::INCOMPLETE);
    }
    Ok(exit::OK)
}

/// The `--by` keys, checked: known names, no repeats.
pub fn parse_keys(by: &[String]) -> Result<Vec<Key>, UsageError> {
    let names = || Key::ALL.map(Key::name).join(", ");
    let mut keys = Vec::new();
    for s in by {
        let key = Key::parse(s).ok_or_else(|| {
            UsageError::new(format!("--by '{s}' is not a key; use some of: {}", names()))
        })?;
        if keys.contains(&key) {
            return Err(UsageError::new(format!(
                "--by names '{}' twice",
                key.name()
            )));
        }
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(UsageError::new(format!(
            "--by needs at least one key of: {}",
            names()
        )));
    }
    Ok(keys)
}

/// `--batch ID` must name a batch of the export: a typo would otherwise print an empty report.
fn check_batch(
    conn: &rusqlite::Connection,
    batch: &str,
    path: &std::path::Path,
) -> anyhow::Result<()> {
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
