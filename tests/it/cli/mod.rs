//! Conventions every subcommand shares, checked on the real binary: help with examples and
//! the environment it reads, exit codes in the top-level help, shell completions, `-o` for
//! where output goes, `-q` and `-v`. The modules below check the clap definition itself, the
//! help people read (snapshots), closed pipes, `--json` errors, and the install and deploy
//! files.

#[cfg(unix)]
mod closed_pipe;
mod definition;
mod deploy_examples;
mod fatal_json;
mod help;
mod install;

mod docs;
mod since_until;

use std::path::Path;

use sail_export::sink::{self, Format};
use sail_export::summary::Summary;
use sail_export::time::now_unix;
use serde_json::json;

use crate::cost::{export, mixed};
use crate::harness::*;

const SUBCOMMANDS: &[(&str, &[&str])] = &[
    ("fetch", &["SAIL_API_KEY", "SAIL_BASE_URL", "RUST_LOG"]),
    ("status", &["SAIL_API_KEY", "SAIL_BASE_URL", "RUST_LOG"]),
    ("list", &["SAIL_API_KEY", "SAIL_BASE_URL", "RUST_LOG"]),
    ("load", &["RUST_LOG"]),
    ("cost", &["COLUMNS", "RUST_LOG"]),
    ("demo", &["RUST_LOG"]),
    ("reconcile", &["SAIL_API_KEY", "SAIL_USAGE_URL", "RUST_LOG"]),
    ("completions", &[]),
];

#[tokio::test]
async fn every_subcommand_help_has_examples_its_environment_and_q_v() {
    for (sub, env) in SUBCOMMANDS {
        let out = run(&[sub, "--help"]).await;
        assert_eq!(out.code, 0, "{out:?}");
        let help = &out.stdout;
        let examples = help
            .lines()
            .filter(|l| l.starts_with(&format!("  sail-export {sub}")))
            .count();
        assert!(
            (2..=3).contains(&examples) && help.contains("Examples:"),
            "{sub}: {examples} examples\n{help}"
        );
        assert!(help.contains("Environment:"), "{sub}\n{help}");
        for var in *env {
            assert!(
                help.contains(&format!("  {var} ")),
                "{sub} lacks {var}\n{help}"
            );
        }
        assert!(
            help.contains("-q, --quiet") && help.contains("-v, --verbose"),
            "{sub}\n{help}"
        );
    }
}

#[tokio::test]
async fn the_top_level_help_lists_the_exit_codes() {
    let out = run(&["--help"]).await;
    assert_eq!(out.code, 0);
    let codes = out
        .stdout
        .split_once("Exit codes:")
        .unwrap_or_else(|| panic!("{}", out.stdout))
        .1;
    for (code, what) in [
        ("0", "success"),
        ("1", "fatal"),
        ("2", "usage"),
        ("3", "incomplete"),
        ("130", "SIGINT"),
        ("143", "SIGTERM"),
    ] {
        assert!(
            codes
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{code} ")) && l.contains(what)),
            "{code} {what}\n{}",
            out.stdout
        );
    }
    assert!(out.stdout.contains("SAIL_API_KEY"), "{}", out.stdout);
}

#[tokio::test]
async fn completions_print_a_script_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F _sail__export"),
        ("zsh", "#compdef sail-export"),
        ("fish", "complete -c sail-export"),
    ] {
        let out = run(&["completions", shell]).await;
        assert_eq!(out.code, 0, "{out:?}");
        for want in [marker, "fetch", "since", "quiet"] {
            assert!(out.stdout.contains(want), "{shell} lacks {want}");
        }
        if shell == "bash" {
            let dir = tempfile::tempdir().unwrap();
            let script = dir.path().join("sail-export.bash");
            std::fs::write(&script, &out.stdout).unwrap();
            let check = std::process::Command::new("bash")
                .arg("-n")
                .arg(&script)
                .output()
                .expect("bash");
            assert!(
                check.status.success(),
                "{}",
                String::from_utf8_lossy(&check.stderr)
            );
        }
    }
    let out = run(&["completions", "tcsh"]).await;
    assert_eq!(out.code, 2, "{out:?}");
}

/// A small Parquet export written through the library's sink.
fn parquet_export(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("x.parquet");
    let mut s = sink::open(&path, Format::Parquet).unwrap();
    s.write(&mixed()).unwrap();
    s.finish(&Summary::default()).unwrap();
    path
}

#[tokio::test]
async fn load_writes_where_o_says_and_still_takes_into() {
    let dir = tempfile::tempdir().unwrap();
    let parquet = parquet_export(dir.path());
    for flag in ["-o", "--out", "--into"] {
        let db = dir
            .path()
            .join(format!("{}.sqlite", flag.trim_start_matches('-')));
        let out = run(&[
            "load",
            parquet.to_str().unwrap(),
            flag,
            db.to_str().unwrap(),
        ])
        .await;
        assert_eq!(out.code, 0, "{flag}: {out:?}");
        let n = query(&db, "SELECT COUNT(*) AS n FROM results");
        assert_eq!(n[0]["n"], 9, "{flag}");
    }
    let help = run(&["load", "--help"]).await.stdout;
    assert!(!help.contains("--into"), "the old name is hidden: {help}");
}

#[tokio::test]
async fn quiet_leaves_out_notes_but_not_results_warnings_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    let parquet = parquet_export(dir.path());
    let db = dir.path().join("a.sqlite");
    let p = parquet.to_str().unwrap();
    let loud = run(&["load", p, "-o", db.to_str().unwrap()]).await;
    assert!(loud.stderr.contains("loaded 9 rows"), "{loud:?}");
    let mut cmd = command(&["load", p, "-o", db.to_str().unwrap(), "-q"]);
    cmd.env_remove("RUST_LOG");
    let quiet = output(cmd).await;
    assert_eq!(quiet.code, 0, "{quiet:?}");
    assert_eq!(quiet.stderr, "", "-q prints nothing on success");
    // -q before the subcommand works too; errors still print.
    let mut cmd = command(&["-q", "load", "/nonexistent/x.parquet", "-o", "y.sqlite"]);
    cmd.env_remove("RUST_LOG");
    let failed = output(cmd).await;
    assert_eq!(failed.code, 2, "{failed:?}");
    assert!(failed.stderr.starts_with("error: "), "{}", failed.stderr);

    let server = TestApi::start().await;
    serve_results(&server, "batch_q", &[("a", completed("a", 10, 0, 5, 0))]).await;
    let status = json!({
        "id": "batch_q", "created_at": now_unix(), "request_counts": 1,
        "request_status": {"a": {"status": "COMPLETED"}}
    });
    server.batch("batch_q", status).await;
    let ids = manifest(dir.path(), &["a"]);
    let out = dir.path().join("q.sqlite");
    let loud = fetch(&server, "batch_q", &ids, &out, &[]).await;
    assert_eq!(loud.code, 0, "{loud:?}");
    assert!(
        loud.stderr.contains("fetched"),
        "the summary: {}",
        loud.stderr
    );
    let mut cmd = command(&[
        "fetch",
        "batch_q",
        "-m",
        ids.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--base-url",
        &base(&server),
        "--refetch-all",
        "--json",
        "-q",
    ]);
    cmd.env_remove("RUST_LOG");
    let quiet = output(cmd).await;
    assert_eq!(quiet.code, 0, "{quiet:?}");
    assert_eq!(quiet.stderr, "", "no summary with -q");
    let summary: serde_json::Value = serde_json::from_str(quiet.stdout.trim()).unwrap();
    assert_eq!(summary["fetched"], 1, "--json still prints the result");
}

#[tokio::test]
async fn verbose_turns_on_info_logs_unless_rust_log_decides() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "x.sqlite", &mixed()[..3]);
    let logs = |args: &[&str], rust_log: Option<&str>| {
        let mut all = vec!["cost", db.to_str().unwrap(), "--json"];
        all.extend(args);
        let mut cmd = command(&all);
        match rust_log {
            Some(l) => cmd.env("RUST_LOG", l),
            None => cmd.env_remove("RUST_LOG"),
        };
        output(cmd)
    };
    let plain = logs(&[], None).await;
    assert_eq!(plain.code, 0, "{plain:?}");
    assert!(!plain.stderr.contains("INFO"), "{}", plain.stderr);
    let verbose = logs(&["-v"], None).await;
    assert!(
        verbose.stderr.contains("INFO") && verbose.stderr.contains("scanned the export"),
        "{}",
        verbose.stderr
    );
    let overruled = logs(&["-v"], Some("warn")).await;
    assert!(!overruled.stderr.contains("INFO"), "{}", overruled.stderr);
    let both = logs(&["-q", "-v"], None).await;
    assert_eq!(both.code, 2, "-q and -v contradict: {both:?}");
}
