//! The clap definition itself: `debug_assert` finds what clap only reports when a user
//! happens on it (two flags with one short name, a `requires` naming no argument, a default
//! outside its possible values, a positional after a variadic one).

use clap::CommandFactory;
use sail_export::cli::Cli;

/// `debug_assert` builds the command recursively, so every subcommand and its flags are
/// checked, with the global `-q` / `-v` propagated as at run time.
#[test]
fn the_clap_definition_passes_its_own_debug_asserts() {
    Cli::command().debug_assert();
}
