//! The text under `--help`: each subcommand's examples and the environment it reads, and
//! the top level's exit codes.

use crate::error::exit;

/// Environment variables of the subcommands that call the API.
pub(super) const API_ENV: &[(&str, &str)] = &[
    (
        "SAIL_API_KEY",
        "the API key (or --api-key-file); never printed or stored",
    ),
    (
        "SAIL_BASE_URL",
        "the API base URL, with /v1 (or --base-url)",
    ),
    (
        "RUST_LOG",
        "log filter on stderr, e.g. debug; decides over -v",
    ),
];
/// Environment variables of the subcommands that only read or write files.
pub(super) const LOG_ENV: &[(&str, &str)] = &[(
    "RUST_LOG",
    "log filter on stderr, e.g. debug; decides over -v",
)];
/// Environment variables of `cost`.
pub(super) const COST_ENV: &[(&str, &str)] = &[
    (
        "COLUMNS",
        "the width the table fits (default: the terminal's, or 80 when piped)",
    ),
    (
        "RUST_LOG",
        "log filter on stderr, e.g. debug; decides over -v",
    ),
];

/// A subcommand's text under its options: examples, then the environment it reads.
pub(super) fn help(examples: &[&str], env: &[(&str, &str)]) -> String {
    let mut s = String::from("Examples:\n");
    for e in examples {
        s.push_str(&format!("  {e}\n"));
    }
    s.push_str("\nEnvironment:\n");
    if env.is_empty() {
        s.push_str("  (none)\n");
    }
    for (name, what) in env {
        s.push_str(&format!("  {name:<14} {what}\n"));
    }
    s
}

/// The top-level text under the subcommands: exit codes, environment, a first example.
pub(super) fn top_help() -> String {
    let codes = [
        (
            exit::OK,
            "success (fetch: every id fetched with a terminal status)",
        ),
        (
            exit::FATAL,
            "fatal: key rejected, output not writable, anything unexpected",
        ),
        (
            exit::USAGE,
            "usage or input error: a flag, the manifest, the export, the price file",
        ),
        (
            exit::INCOMPLETE,
            "incomplete: ids pending / not_found / error after fetch or sync; unpriced requests \
             with cost --strict; a bill that disagrees with the exports (reconcile)",
        ),
        (
            exit::LOSSES,
            "complete with losses: every id in, some results gone for good (final not_found)",
        ),
        (
            exit::SIGINT,
            "stopped by Ctrl-C (SIGINT); rows written so far are kept",
        ),
        (
            exit::SIGTERM,
            "stopped by SIGTERM; rows written so far are kept",
        ),
        (
            crate::out::CLOSED_PIPE,
            "standard output closed by its reader (… | head)",
        ),
    ];
    let mut s = String::from("Exit codes:\n");
    for (code, what) in codes {
        s.push_str(&format!("  {code:<4} {what}\n"));
    }
    let mut env: Vec<(&str, &str)> = API_ENV.to_vec();
    env.push(COST_ENV[0]);
    s.push('\n');
    s.push_str(&help(
        &[
            "sail-export demo",
            "sail-export fetch batch_abc123 -o results.sqlite",
            "sail-export cost results.sqlite --by model",
        ],
        &env,
    ));
    s
}
