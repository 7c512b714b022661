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

/// An error and its causes as one line, `a: b: c`, leaving out a cause whose text is
/// already there (`External: No space left on device (os error 28)` is not followed by
/// `No space left on device (os error 28)` again).
pub fn describe(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for e in err.chain() {
        let text = e.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// The exit code an error maps to.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.chain().any(|e| e.is::<UsageError>()) {
        exit::USAGE
    } else {
        exit::FATAL
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cause_already_said_is_not_repeated() {
        let io = std::io::Error::from_raw_os_error(28);
        let said = format!("External: {io}");
        let err = anyhow::Error::new(io)
            .context(said)
            .context("writing a part");
        assert_eq!(
            super::describe(&err),
            "writing a part: External: No space left on device (os error 28)"
        );
    }
}
