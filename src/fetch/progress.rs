//! The progress bar on stderr: drawn only when stderr is a terminal (or the caller asks).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// The bar; with `--wait` the poller's counts lead it and rate and ETA are left out (they
/// mean little while items are still running).
pub(super) fn bar(show: bool, len: u64, wait: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(if wait {
            "{prefix}{bar:20} {pos}/{len} {msg}"
        } else {
            "{bar:30} {pos}/{len} {rate} eta {eta} {msg}"
        })
        .expect("static template")
        .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0}/s", s.per_sec());
        })
        .progress_chars("=> "),
    );
    bar
}
