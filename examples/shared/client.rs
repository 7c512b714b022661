//! What the benchmarks share: the client binary they measure, built with their own profile,
//! CPU seconds out of `getrusage`, and a process's own peak RSS.

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

/// This process's peak RSS in KiB, as the kernel keeps it for its address space (`VmHWM`;
/// unlike `ru_maxrss`, nothing inherited from whoever exec'd it).
pub fn own_peak_kb() -> anyhow::Result<i64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/self/status")
}
