//! `sail-export demo`: the simulated Sail API on loopback, the real fetch pipeline, a cost
//! report.

use crate::cli::DemoArgs;

/// Runs `demo`; returns the exit code.
pub async fn run(_args: DemoArgs) -> anyhow::Result<i32> {
    anyhow::bail!("demo is not implemented yet")
}
