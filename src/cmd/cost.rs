//! `sail-export cost`: prices an export and prints the report.

use crate::cli::CostArgs;

/// Runs `cost`; returns the exit code.
pub fn run(_args: CostArgs) -> anyhow::Result<i32> {
    anyhow::bail!("cost is not implemented yet")
}
