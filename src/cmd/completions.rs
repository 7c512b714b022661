//! `sail-export completions SHELL`: the shell's completion script for every subcommand and
//! flag, generated from the same clap definition that parses the command line.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::error::exit;

/// Prints the script on stdout; returns the exit code.
pub(super) fn run(args: CompletionsArgs) -> anyhow::Result<i32> {
    let mut cmd = Cli::command();
    let name = cmd.get_name().to_owned();
    clap_complete::generate(args.shell, &mut cmd, name, &mut std::io::stdout().lock());
    Ok(exit::OK)
}
