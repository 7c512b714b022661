//! `sail-export completions SHELL`: the shell's completion script for every subcommand and
//! flag, generated from the same clap definition that parses the command line.

use std::io::Write;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::error::exit;
use crate::out;

/// Prints the script on stdout; returns the exit code.
pub(super) fn run(args: CompletionsArgs) -> anyhow::Result<i32> {
    let mut cmd = Cli::command();
    let name = cmd.get_name().to_owned();
    // Made whole first: the generator panics on a write error.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, name, &mut script);
    out::Stdout
        .write_all(&script)
        .context("writing the completion script")?;
    Ok(exit::OK)
}
