//! Snapshots of the help people read: `sail-export --help` and `--help` of every
//! subcommand clap knows, printed by the real binary. A change to a help text shows up as a
//! snapshot diff to review (docs/design.md, "Snapshot tests", says how to accept one).

use clap::CommandFactory;
use sail_export::cli::Cli;

use crate::harness::*;

/// `sail-export ARGS --help` as printed, at a fixed width (help is not wrapped to the
/// terminal today; `COLUMNS` keeps it so if it ever is).
async fn help(args: &[&str]) -> String {
    let mut args = args.to_vec();
    args.push("--help");
    let mut cmd = command(&args);
    cmd.env("COLUMNS", "100").env_remove("RUST_LOG");
    let out = output(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    assert_no_key(&out);
    out.stdout
}

#[tokio::test]
async fn the_top_level_help_is_as_reviewed() {
    insta::assert_snapshot!("help", help(&[]).await);
}

#[tokio::test]
async fn each_subcommand_help_is_as_reviewed() {
    let names: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    assert!(names.len() >= 7, "{names:?}");
    for name in names {
        insta::assert_snapshot!(format!("help_{name}"), help(&[&name]).await);
    }
}
