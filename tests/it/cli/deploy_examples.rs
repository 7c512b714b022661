//! Every `sail-export` command line in `examples/deploy/` parses with the real command line
//! parser, the shard index variables filled in: the examples cannot drift from the flags.

use std::path::Path;

use clap::Parser;
use sail_export::cli::Cli;

/// The argument lists of the `sail-export` commands in `text`: from shell-like lines
/// (`sail-export sync -o … >> log`) and from YAML `args: [...]` arrays of the binary.
fn commands(text: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for line in text.lines() {
        let line = line
            .replace("\\\"", "\"")
            .replace("$JOB_COMPLETION_INDEX", "0")
            .replace("JOB_COMPLETION_INDEX", "0")
            .replace("$AWS_BATCH_JOB_ARRAY_INDEX", "0")
            .replace("AWS_BATCH_JOB_ARRAY_INDEX", "0")
            .replace("$(cat ~/.config/sail-export/key)", "key");
        if let Some(array) = line.trim().strip_prefix("args: [") {
            let json = format!("[{array}");
            if let Ok(args) = serde_json::from_str::<Vec<String>>(&json) {
                found.push(args);
            }
            continue;
        }
        let Some(at) = line.find("sail-export ") else {
            continue;
        };
        let rest = &line[at + "sail-export ".len()..];
        let first = rest.split_whitespace().next().unwrap_or("");
        if !["fetch", "sync", "load", "cost", "status", "list"].contains(&first) {
            continue;
        }
        let rest = rest
            .split(">>")
            .next()
            .unwrap()
            .trim_end_matches(['"', ']', ',', ' ']);
        found.push(shlex::split(rest).expect("shell words"));
    }
    found
}

#[test]
fn every_command_in_the_deploy_examples_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/deploy");
    let mut checked = 0;
    let mut sharded = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut found = commands(&text);
        if path.extension().is_some_and(|e| e == "json") {
            let job = serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // The container's command: the arguments of the image's entrypoint, sail-export.
            if let Some(command) = job.pointer("/containerProperties/command") {
                let args: Vec<String> = serde_json::from_value(command.clone()).unwrap();
                found.extend(commands(&format!(
                    "args: {}",
                    serde_json::to_string(&args).unwrap()
                )));
            }
        }
        for args in found {
            let argv = std::iter::once("sail-export".to_owned()).chain(args.iter().cloned());
            if let Err(e) = Cli::try_parse_from(argv) {
                panic!(
                    "{}: `sail-export {}` does not parse:\n{e}",
                    path.display(),
                    args.join(" ")
                );
            }
            sharded += usize::from(args.iter().any(|a| a == "--shard"));
            checked += 1;
        }
    }
    assert!(checked >= 6, "found only {checked} commands");
    assert_eq!(sharded, 2, "the Indexed Job and the array job");
}
