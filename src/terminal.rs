//! What the standard streams are connected to: whether stderr goes where stdout goes (one
//! reader sees both), and whether log lines may be coloured.

use std::ffi::OsStr;

/// Whether stderr and stdout are the same file, pipe or terminal (`2>&1`): a warning a
/// command prints under its output need not be repeated on stderr. Unix only; elsewhere
/// `false` (the warning is repeated rather than lost).
pub fn stderr_is_stdout() -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::{AsFd, BorrowedFd};
        use std::os::unix::fs::MetadataExt;
        let id = |fd: BorrowedFd<'_>| {
            let file = std::fs::File::from(fd.try_clone_to_owned().ok()?);
            file.metadata().ok().map(|m| (m.dev(), m.ino()))
        };
        let (out, err) = (id(std::io::stdout().as_fd()), id(std::io::stderr().as_fd()));
        out.is_some() && out == err
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// Whether log lines on a stream may carry ANSI colours: only on a terminal, and never when
/// `NO_COLOR` is set to anything but the empty string (<https://no-color.org>).
pub fn colour(is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// [`colour`] for stderr, where the log goes.
pub fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))));
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
    }
}
