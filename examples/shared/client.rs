//! What the benchmarks share: the client binary they measure, built with their own profile,
//! CPU seconds out of `getrusage`, and a process's own peak RSS. The measures are Linux's
//! (`RUSAGE_THREAD`, `/proc`): elsewhere they compile and [`linux_only`] says so at start.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

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
    Ok(dir.join(format!("sail-export{}", std::env::consts::EXE_SUFFIX)))
}

/// Why the benchmarks do not run elsewhere.
const LINUX_ONLY: &str =
    "this benchmark measures with getrusage(RUSAGE_THREAD) and /proc: Linux only";

/// Stops a benchmark on a system whose measures it does not have.
pub fn linux_only() -> anyhow::Result<()> {
    if !cfg!(target_os = "linux") {
        bail!(LINUX_ONLY);
    }
    Ok(())
}

/// Whose resources [`usage`] reports (each benchmark uses some).
#[allow(dead_code)]
#[derive(Debug, Clone, Copy)]
pub enum Who {
    /// This process.
    Process,
    /// Its children that have been waited for.
    Children,
    /// The calling thread.
    Thread,
}

/// What `getrusage` reports, in the units the benchmarks print.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// User + system CPU seconds.
    pub cpu_s: f64,
    /// System CPU seconds.
    pub sys_s: f64,
    /// Peak RSS in KiB.
    pub max_rss_kb: i64,
}

/// `getrusage(who)`.
#[cfg(target_os = "linux")]
pub fn usage(who: Who) -> anyhow::Result<Usage> {
    use nix::sys::resource::{getrusage, UsageWho};
    let secs = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
    let u = getrusage(match who {
        Who::Process => UsageWho::RUSAGE_SELF,
        Who::Children => UsageWho::RUSAGE_CHILDREN,
        Who::Thread => UsageWho::RUSAGE_THREAD,
    })?;
    Ok(Usage {
        cpu_s: secs(u.user_time()) + secs(u.system_time()),
        sys_s: secs(u.system_time()),
        max_rss_kb: u.max_rss(),
    })
}

/// Elsewhere: not measured (see [`linux_only`]).
#[cfg(not(target_os = "linux"))]
pub fn usage(_who: Who) -> anyhow::Result<Usage> {
    bail!(LINUX_ONLY)
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
