//! The async runtime the binary runs on (and the benchmark's floor with it), and why it has
//! that flavour.

/// The runtime of one `sail-export` process: tokio's current-thread scheduler. Every request,
/// its parsing and its row run on the thread that drives the pipeline, so an answer wakes
/// nothing on another thread; the writer thread is woken once per chunk of rows. Measured
/// against the multi-thread scheduler (`docs/design.md`): less CPU per result, for the tool
/// and for a bare client alike, at 0 and 20 ms.
pub fn build() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
