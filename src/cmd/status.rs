//! `sail-export status`: where one batch stands.

use crate::cli::StatusArgs;

/// Runs `status`; returns the exit code.
pub async fn run(_args: StatusArgs) -> anyhow::Result<i32> {
    anyhow::bail!("status is not implemented yet")
}
