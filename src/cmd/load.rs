//! `sail-export load`: streams Parquet exports into a SQLite export.

use std::time::Instant;

use crate::cli::LoadArgs;
use crate::error::exit;
use crate::export;

/// Runs `load`; returns the exit code.
pub(crate) fn run(args: LoadArgs) -> anyhow::Result<i32> {
    let started = Instant::now();
    // Bad files are refused before the target is even created.
    export::load::check(&args.files)?;
    let mut conn = crate::sink::sqlite::open(&args.out)?;
    let rows = export::load::into_sqlite(&mut conn, &args.files)?;
    let total: i64 = conn.query_row("SELECT count(*) FROM results", [], |r| r.get(0))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .ok();
    note!(
        "loaded {rows} rows from {} file{} into '{}' ({total} rows in results) in {:.1}s",
        args.files.len(),
        if args.files.len() == 1 { "" } else { "s" },
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(exit::OK)
}
