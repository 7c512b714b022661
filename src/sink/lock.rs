//! One writer per output: an OS advisory lock (`flock` on Unix, `LockFileEx` on Windows) on
//! a small file beside the output, `.<name>.lock`, holding the PID of the process that has
//! it.
//!
//! The lock lives beside the output, not on it: the Parquet output is replaced by a rename
//! (a lock on the old file would not cover the new one), SQLite takes its own `fcntl` locks
//! on its file, and an output that does not exist yet must not be created just to be
//! locked. The OS drops the lock when the process ends however it ends (a SIGKILL too), so
//! a stale lock file never blocks the next run; the PID in it only names the holder in the
//! message of a run that finds the output busy.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use fs4::{FileExt, TryLockError};

use crate::error::UsageError;

/// How often a run waiting for another one's lock tries again.
const RETRY: Duration = Duration::from_millis(200);

/// Held while this process writes the output; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct OutputLock {
    file: File,
    path: PathBuf,
}

/// The output is locked by another process.
#[derive(Debug, Clone)]
pub(crate) struct Busy {
    out: String,
    holder: Option<u32>,
}

impl Busy {
    /// The error a run that does not wait ends with (exit 2).
    pub(crate) fn into_error(self) -> anyhow::Error {
        UsageError::new(format!(
            "{}; wait for it to end, or pass --wait-for-lock to wait for it",
            self.describe()
        ))
        .into()
    }

    /// "'OUT' is being written by another sail-export process (PID n)".
    pub(crate) fn describe(&self) -> String {
        let who = match self.holder {
            Some(pid) => format!("another sail-export process (PID {pid})"),
            None => "another sail-export process".to_owned(),
        };
        format!("{} is being written by {who}", self.out)
    }
}

/// The lock file of the output `out`: `.<name>.lock` in the same folder.
pub(crate) fn lock_path(out: &Path) -> PathBuf {
    let name = out.file_name().unwrap_or(out.as_os_str()).to_string_lossy();
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    dir.join(format!(".{name}.lock"))
}

impl OutputLock {
    /// Takes the lock of `out` if no other process holds it. The output's folder must exist
    /// (nothing is created but the lock file).
    #[cfg(test)]
    pub(crate) fn try_acquire(out: &Path) -> anyhow::Result<Result<OutputLock, Busy>> {
        OutputLock::try_acquire_as(out, &format!("'{}'", out.display()))
    }

    /// Takes the lock of `out` if no other process holds it, naming what is locked `what`
    /// in messages. The output's folder must exist (nothing is created but the lock file).
    fn try_acquire_as(out: &Path, what: &str) -> anyhow::Result<Result<OutputLock, Busy>> {
        let path = lock_path(out);
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .with_context(|| format!("cannot create the lock file '{}'", path.display()))?;
            match FileExt::try_lock(&file) {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    return Ok(Err(Busy {
                        out: what.to_owned(),
                        holder: holder_pid(&mut file),
                    }))
                }
                Err(TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("cannot lock '{}'", path.display()))
                }
            }
            // A holder that just finished may have removed the file we opened: our lock is
            // then on a file no one else will see, so start again with the one at the path.
            if !still_at(&file, &path) {
                continue;
            }
            record_pid(&mut file)
                .with_context(|| format!("cannot write the lock file '{}'", path.display()))?;
            return Ok(Ok(OutputLock { file, path }));
        }
    }

    /// Takes the lock of `out`: when another process holds it, fails naming that process,
    /// or with `wait` says once on stderr who it waits for and tries again every [`RETRY`]
    /// until the lock is free (an async sleep, so a caller can still select on Ctrl-C).
    pub(crate) async fn acquire(out: &Path, wait: bool) -> anyhow::Result<OutputLock> {
        OutputLock::acquire_as(out, &format!("'{}'", out.display()), wait).await
    }

    /// [`OutputLock::acquire`], naming what is locked `what` in messages.
    pub(crate) async fn acquire_as(
        out: &Path,
        what: &str,
        wait: bool,
    ) -> anyhow::Result<OutputLock> {
        let mut told = false;
        loop {
            match OutputLock::try_acquire_as(out, what)? {
                Ok(lock) => return Ok(lock),
                Err(busy) if !wait => return Err(busy.into_error()),
                Err(busy) => {
                    if !std::mem::replace(&mut told, true) {
                        eprintln!("waiting: {}; this run starts when it ends", busy.describe());
                    }
                }
            }
            tokio::time::sleep(RETRY).await;
        }
    }
}

impl Drop for OutputLock {
    /// Removes the lock file while still holding the lock (a process waiting on it then
    /// sees it gone and starts again), then closes it, which releases the lock.
    fn drop(&mut self) {
        if cfg!(unix) {
            std::fs::remove_file(&self.path).ok();
        }
        FileExt::unlock(&self.file).ok();
    }
}

/// Whether `path` still names the file `file` is open on.
#[cfg(unix)]
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Elsewhere the lock file is never removed, so the file at the path is the one opened.
#[cfg(not(unix))]
fn still_at(_file: &File, _path: &Path) -> bool {
    true
}

fn record_pid(file: &mut File) -> std::io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())
}

/// The holder's PID. It writes it just after it takes the lock, so a run that finds the
/// lock taken at that very moment reads an empty file: it looks again for up to a second
/// before it reports the holder without a PID.
fn holder_pid(file: &mut File) -> Option<u32> {
    for _ in 0..40 {
        if let Some(pid) = read_pid(file) {
            return Some(pid);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    None
}

fn read_pid(file: &mut File) -> Option<u32> {
    file.rewind().ok()?;
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_pid_and_the_lock_is_free_again_once_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.sqlite");
        let held = OutputLock::try_acquire(&out).unwrap().unwrap();
        assert!(dir.path().join(".out.sqlite.lock").exists());
        let busy = OutputLock::try_acquire(&out).unwrap().unwrap_err();
        assert_eq!(busy.holder, Some(std::process::id()));
        let msg = format!("{:#}", busy.into_error());
        assert!(
            msg.contains("out.sqlite") && msg.contains("--wait-for-lock"),
            "{msg}"
        );
        drop(held);
        assert!(!out.exists());
        drop(OutputLock::try_acquire(&out).unwrap().unwrap());
    }

    #[test]
    fn the_lock_file_sits_beside_the_output() {
        assert_eq!(
            lock_path(Path::new("x.sqlite")),
            Path::new("./.x.sqlite.lock")
        );
        assert_eq!(
            lock_path(Path::new("a/b/x.parquet")),
            Path::new("a/b/.x.parquet.lock")
        );
    }
}
