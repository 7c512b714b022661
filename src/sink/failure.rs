//! A fatal error writing an output, said the way a user acts on it: the path, the phase,
//! the cause in a few words (no repeated OS error text) and the fix, with what is kept.

use std::fmt;

use crate::cancel::Cancelled;
use crate::error::UsageError;

/// Why a write failed, as far as the fix goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// No space left, or a quota reached.
    Full,
    /// The file or its folder cannot be written (permissions, a read-only file system).
    Denied,
    /// Anything else (an I/O error, a corrupt file, a failed upload).
    Other,
}

/// A failed write to an output: `writing 'x.parquet' (final merge): no space left on device
/// — free space and rerun: the 610 fetched rows are kept in the checkpoint`.
#[derive(Debug)]
pub struct OutputError {
    /// The output as the user named it.
    path: String,
    /// What the run was doing: `committing rows`, `checkpoint`, `final merge`, ...
    phase: &'static str,
    /// The cause in a few words.
    reason: String,
    cause: Cause,
    /// What a rerun starts from, once the run knows it ("the 610 fetched rows are kept in
    /// the checkpoint").
    kept: Option<String>,
}

impl OutputError {
    /// Wraps `err`, met writing `path` in `phase`; an error that already is one, a usage
    /// error (which says what the user gave and exits 2) and work stopped by a signal
    /// ([`Cancelled`], which the pipeline turns into 130 / 143) are kept as they are.
    pub(crate) fn wrap(path: &str, phase: &'static str, err: anyhow::Error) -> anyhow::Error {
        let kept =
            |e: &(dyn std::error::Error + 'static)| e.is::<UsageError>() || e.is::<Cancelled>();
        if err.is::<OutputError>() || err.chain().any(kept) {
            return err;
        }
        let (cause, reason) = cause_of(&err);
        OutputError {
            path: path.to_owned(),
            phase,
            reason,
            cause,
            kept: None,
        }
        .into()
    }

    /// The phase the write failed in.
    pub fn phase(&self) -> &'static str {
        self.phase
    }

    /// Whether the disk (or a quota) was full.
    pub fn is_full(&self) -> bool {
        self.cause == Cause::Full
    }

    /// Says what a rerun starts from.
    pub(crate) fn set_kept(&mut self, kept: String) {
        self.kept = Some(kept);
    }
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fix = match self.cause {
            Cause::Full => "free space and rerun",
            Cause::Denied => {
                "make the file and its folder writable (or choose another -o/--out) and rerun"
            }
            Cause::Other => "rerun to resume",
        };
        write!(
            f,
            "writing '{}' ({}): {} — {fix}",
            self.path, self.phase, self.reason
        )?;
        match &self.kept {
            Some(kept) => write!(f, ": {kept}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for OutputError {}

/// The cause of a write error in a few words, from the first error of its chain that says
/// more than "failed": an OS error, a SQLite error, else the chain without repeats.
pub(crate) fn cause_of(err: &anyhow::Error) -> (Cause, String) {
    for e in err.chain() {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return io_cause(io);
        }
        if let Some(rusqlite::Error::SqliteFailure(f, msg)) = e.downcast_ref::<rusqlite::Error>() {
            use rusqlite::ErrorCode as C;
            return match f.code {
                C::DiskFull => (Cause::Full, "no space left on device".to_owned()),
                C::ReadOnly => (Cause::Denied, "the file or its folder is read-only".into()),
                C::PermissionDenied => (Cause::Denied, "permission denied".to_owned()),
                C::CannotOpen => (Cause::Denied, "cannot open the file".to_owned()),
                _ => (Cause::Other, msg.clone().unwrap_or_else(|| f.to_string())),
            };
        }
    }
    (Cause::Other, crate::error::describe(err))
}

/// An OS error in a few words, without the "(os error N)" the kind already says.
fn io_cause(io: &std::io::Error) -> (Cause, String) {
    use std::io::ErrorKind as K;
    const ENOSPC: i32 = 28;
    const EROFS: i32 = 30;
    const EDQUOT: i32 = 122;
    match (io.kind(), io.raw_os_error()) {
        (K::StorageFull, _) | (_, Some(ENOSPC)) => {
            (Cause::Full, "no space left on device".to_owned())
        }
        (_, Some(EDQUOT)) => (Cause::Full, "disk quota exceeded".to_owned()),
        (_, Some(EROFS)) => (Cause::Denied, "read-only file system".to_owned()),
        (K::PermissionDenied, _) => (Cause::Denied, "permission denied".to_owned()),
        _ => {
            let text = io.to_string();
            let short = match text.find(" (os error ") {
                Some(i) => text[..i].to_owned(),
                None => text,
            };
            (Cause::Other, short.to_lowercase())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn a_full_disk_is_named_once_with_the_path_the_phase_and_the_fix() {
        let io = std::io::Error::from_raw_os_error(28);
        let pq = parquet::errors::ParquetError::External(Box::new(io));
        let err = anyhow::Error::from(pq).context("writing a checkpoint part");
        let mut wrapped = OutputError::wrap("x.parquet", "final merge", err);
        let e = wrapped.downcast_mut::<OutputError>().unwrap();
        e.set_kept("the 610 fetched rows are kept in the checkpoint".into());
        assert!(e.is_full());
        assert_eq!(
            e.to_string(),
            "writing 'x.parquet' (final merge): no space left on device — free space and rerun: \
             the 610 fetched rows are kept in the checkpoint"
        );
    }

    #[test]
    fn sqlite_errors_say_their_cause() {
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(13),
            Some("database or disk is full".into()),
        );
        let err = Err::<(), _>(full).context("committing rows").unwrap_err();
        assert_eq!(
            cause_of(&err),
            (Cause::Full, "no space left on device".to_owned())
        );
        let other = std::io::Error::from_raw_os_error(5);
        let (cause, text) = cause_of(&anyhow::Error::from(other));
        assert_eq!((cause, text.as_str()), (Cause::Other, "input/output error"));
    }
}
