//! The async runtime the binary runs on (and the benchmark's floor with it), and why it has
//! that flavour.

/// The runtime of one `sail-export` process.
pub fn build() -> std::io::Result<tokio::runtime::Runtime> {
    // Experiment switch while measuring; removed once a flavour is chosen.
    match std::env::var("SAIL_EXPORT_RUNTIME").as_deref() {
        Ok("current") => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    }
}
