//! The `sail-export` binary: parse the command line, run it, map the outcome to an exit code.

use clap::Parser;

/// The static Linux build's allocator: musl's own costs far more CPU (docs/design.md).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    sail_export::memory::return_freed_memory();
    // Help and --version go to stdout: a closed pipe ends them as it ends every command.
    let cli = sail_export::cli::Cli::try_parse().unwrap_or_else(|e| {
        let _ = sail_export::out::quiet_on_closed_pipe(e.print());
        std::process::exit(e.exit_code())
    });
    // RUST_LOG, when set, decides as it always did; otherwise -v, -vv, -vvv raise the level.
    let level = match cli.verbosity.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(sail_export::terminal::colour_on_stderr())
        .init();
    let runtime = match sail_export::runtime::build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(sail_export::error::exit::FATAL);
        }
    };
    let code = match runtime.block_on(sail_export::cmd::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", sail_export::error::describe(&err));
            sail_export::error::exit_code(&err)
        }
    };
    drop(runtime);
    std::process::exit(code);
}
