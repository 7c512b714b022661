//! `sail-export list`: every batch of the account, paged.

use crate::cli::ListArgs;

/// Runs `list`; returns the exit code.
pub async fn run(_args: ListArgs) -> anyhow::Result<i32> {
    anyhow::bail!("list is not implemented yet")
}
