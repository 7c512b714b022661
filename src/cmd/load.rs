//! `sail-export load`: streams Parquet exports into a SQLite export, as its only writer.

use std::time::Instant;

use crate::cli::LoadArgs;
use crate::error::exit;
use crate::export;
use crate::export::inputs::Inputs;
use crate::sink::{self, Existing, Format, Output};

/// Runs `load`; returns the exit code.
pub(crate) async fn run(args: LoadArgs) -> anyhow::Result<i32> {
    let started = Instant::now();
    // Bad files, a database of someone else's and a target another process is writing are
    // all refused before the target is even created.
    let inputs = Inputs::resolve(&args.files)?;
    export::load::check(&inputs)?;
    let existing = match args.allow_foreign_db {
        true => Existing::AnyDatabase,
        false => Existing::ExportsOnly,
    };
    let output = Output::new(args.out.clone(), Format::Sqlite);
    let _lock = output
        .prepare("", None, existing)?
        .lock(args.wait_for_lock)
        .await?;
    let mut conn = sink::sqlite::open_with(&args.out, existing)?;
    let rows = export::load::load(&mut conn, &inputs)?;
    let total: i64 = conn.query_row("SELECT count(*) FROM results", [], |r| r.get(0))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .ok();
    note!(
        "loaded {rows} rows from {} file{} into '{}' ({total} rows in results) in {:.1}s",
        inputs.files.len(),
        if inputs.files.len() == 1 { "" } else { "s" },
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(exit::OK)
}
