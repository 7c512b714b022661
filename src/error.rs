//! Errors that decide the exit code; everything else is `anyhow` and exits 1.

use std::fmt;

/// A problem with what the user gave (flags, manifest, input file): exit code 2.
#[derive(Debug)]
pub struct UsageError(String);

impl UsageError {
    /// An error with this message (lowercase, naming what the user gave and the fix).
    pub(crate) fn new(msg: impl Into<String>) -> UsageError {
        UsageError(msg.into())
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Process exit codes, as documented in the README.
pub mod exit {
    /// Every id fetched with a terminal status.
    pub(crate) const OK: i32 = 0;
    /// Fatal: key rejected, output not writable, anything unexpected.
    pub const FATAL: i32 = 1;
    /// Usage or input error.
    pub(crate) const USAGE: i32 = 2;
    /// The export was written but some ids are pending / not_found / error.
    pub(crate) const INCOMPLETE: i32 = 3;
    /// Complete with losses: every id is fetched or a final `not_found` (its result gone past
    /// Sail's retention, or not in the batch); a rerun would fetch nothing more.
    pub(crate) const LOSSES: i32 = 4;
    /// Stopped by SIGINT (Ctrl-C).
    pub(crate) const SIGINT: i32 = 130;
    /// Stopped by SIGTERM.
    pub(crate) const SIGTERM: i32 = 143;
}

/// The exit code an error maps to.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.chain().any(|e| e.is::<UsageError>()) {
        exit::USAGE
    } else {
        exit::FATAL
    }
}
