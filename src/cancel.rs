//! The flag that cancels a run's long work (a final merge, a compaction, an upload) once
//! the run is told to stop: set from async code, checked between steps by the thread
//! doing the work.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A shared flag, clear until [`Cancel::cancel`]; clones share it.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

/// How often [`Cancel::cancelled`] looks at the flag.
const POLL: Duration = Duration::from_millis(20);

impl Cancel {
    /// Sets the flag: work that checks it stops at its next step.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether the flag is set.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Fails with [`Cancelled`] once the flag is set: a step of long work calls this first.
    pub fn check(&self) -> Result<(), Cancelled> {
        match self.is_cancelled() {
            true => Err(Cancelled),
            false => Ok(()),
        }
    }

    /// Resolves once the flag is set (looking every 20 ms), for work made of awaits.
    pub async fn cancelled(&self) {
        while !self.is_cancelled() {
            tokio::time::sleep(POLL).await;
        }
    }
}

/// The error of work stopped by [`Cancel`]: what it had made is thrown away, what it read
/// from is left as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stopped by a signal")
    }
}

impl std::error::Error for Cancelled {}

/// Whether `err` is (or was caused by) a [`Cancelled`].
pub fn is_cancelled(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.is::<Cancelled>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag() {
        let c = Cancel::default();
        let other = c.clone();
        assert!(c.check().is_ok());
        other.cancel();
        assert!(c.is_cancelled());
        let err = anyhow::Error::from(c.check().unwrap_err()).context("merging");
        assert!(is_cancelled(&err));
        assert!(!is_cancelled(&anyhow::anyhow!("disk full")));
    }
}
