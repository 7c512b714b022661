//! Standard output, for every command: what a command prints goes through [`Stdout`], so
//! a reader that went away (`sail-export list | head -1`) ends the process quietly with
//! exit 141, as `yes | head -1` does, instead of a panic or an error message.

use std::io::{self, Write};

/// The exit code when standard output is a pipe nobody reads any more: 128 + SIGPIPE,
/// what a shell reports for a tool the closed pipe ended.
pub const CLOSED_PIPE: i32 = 141;

/// Standard output, written through at every call. A closed pipe ends the process at
/// once with [`CLOSED_PIPE`] and nothing on stderr; any other write error is returned.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut out = io::stdout().lock();
        quiet_on_closed_pipe(out.write_all(buf).and_then(|()| out.flush()))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        quiet_on_closed_pipe(io::stdout().lock().flush())
    }
}

/// Prints `text` and a newline on standard output ([`Stdout`]'s rules).
pub fn line(text: &str) -> io::Result<()> {
    let mut buf = String::with_capacity(text.len() + 1);
    buf.push_str(text);
    buf.push('\n');
    Stdout.write_all(buf.as_bytes())
}

/// Passes `result` on, unless it is a closed pipe: then the process ends with
/// [`CLOSED_PIPE`].
pub fn quiet_on_closed_pipe<T>(result: io::Result<T>) -> io::Result<T> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(CLOSED_PIPE),
        other => other,
    }
}
