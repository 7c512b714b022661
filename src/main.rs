//! The `sail-export` binary: parse the command line, run it, map the outcome to an exit code.

use clap::Parser;

fn main() {
    return_freed_memory();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = sail_export::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(sail_export::error::exit::FATAL);
        }
    };
    let code = match runtime.block_on(sail_export::cmd::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            sail_export::error::exit_code(&err)
        }
    };
    drop(runtime);
    std::process::exit(code);
}

/// Makes glibc's allocator hand blocks of 128 KiB and more straight back to the system when
/// they are freed. By default the threshold rises each time such a block is freed, so
/// later large buffers (Parquet row groups, merge batches, status bodies) stay in the heap
/// after use and the peak RSS creeps up with the length of the run.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn return_freed_memory() {
    // SAFETY: mallopt only sets an allocator parameter; it is called first thing in
    // main, before any other thread exists. A refusal (0) leaves glibc's default.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_freed_memory() {}
