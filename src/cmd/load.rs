//! `sail-export load`: streams Parquet exports into a SQLite export.

use crate::cli::LoadArgs;

/// Runs `load`; returns the exit code.
pub fn run(_args: LoadArgs) -> anyhow::Result<i32> {
    anyhow::bail!("load is not implemented yet")
}
