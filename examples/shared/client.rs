//! What the benchmarks share: the client binary they measure, built with their own profile,
//! and CPU seconds out of `getrusage`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use nix::sys::resource::Usage;

/// Builds `sail-export` with this program's profile; returns its path.
pub fn build_client() -> anyhow::Result<PathBuf> {
    let mut cmd = Command::new(option_env!("CARGO").unwrap_or("cargo"));
    cmd.args(["build", "--quiet", "--locked", "--bin", "sail-export"]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    if !cmd
        .status()
        .context("running cargo build for the client")?
        .success()
    {
        bail!("cargo build --bin sail-export failed");
    }
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("no target dir")?;
    Ok(dir.join("sail-export"))
}

/// A `timeval` in seconds.
pub fn secs(tv: nix::sys::time::TimeVal) -> f64 {
    tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6
}

/// User + system CPU seconds of a `getrusage`.
pub fn cpu_s(u: &Usage) -> f64 {
    secs(u.user_time()) + secs(u.system_time())
}
