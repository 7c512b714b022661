//! A closed standard output: every command that prints on stdout ends quietly with exit 141
//! (128 + SIGPIPE, what a shell reports for `yes | head -1`) when nobody reads it any more,
//! with no panic and nothing on stderr; its work is done before it prints, so nothing is lost.

use std::path::Path;
use std::process::Stdio;

use sail_export::sim::{Sim, SimConfig, SimHandle};

use crate::harness::*;

/// The exit code for a closed stdout.
const CLOSED_PIPE: i32 = 141;

/// Runs `args` with stdout a pipe whose read end is closed before the process starts, so
/// its first write finds nobody to read it. Notes (`-q`) and logs are off, so stderr must
/// stay empty.
async fn closed_stdout(args: &[&str]) -> Output {
    let (writer, reader) = tokio::net::unix::pipe::pipe().expect("a pipe");
    drop(reader);
    let writer = writer.into_blocking_fd().expect("the pipe's write end");
    let mut cmd = command(args);
    cmd.env("RUST_LOG", "off").stdout(Stdio::from(writer));
    let child = cmd.spawn().expect("start sail-export");
    drop(cmd);
    let out = child
        .wait_with_output()
        .await
        .expect("wait for sail-export");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts the run ended quietly with `code`.
fn quiet(out: &Output, code: i32, what: &str) {
    assert_eq!(out.code, code, "{what}: {out:?}");
    assert!(!out.stderr.contains("panicked"), "{what}: {}", out.stderr);
    assert_eq!(out.stderr, "", "{what}: stderr");
}

/// The simulator with the harness key, no faults, one batch (the older ones would bring a
/// retention warning).
async fn sim() -> SimHandle {
    Sim::start(SimConfig {
        api_key: KEY.to_owned(),
        batches: 1,
        ..SimConfig::new(20)
    })
    .await
    .unwrap()
}

/// Exports the main batch of `sim` to `out` (any format).
async fn export(sim: &SimHandle, out: &Path) {
    let base = sim.base_url();
    let o = out.to_str().unwrap();
    let got = run(&["fetch", sim.batch_id(), "-o", o, "--base-url", &base, "-q"]).await;
    assert!(got.code == 0 || got.code == 3, "{got:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn list_stops_quietly() {
    let sim = sim().await;
    let base = sim.base_url();
    for json in [false, true] {
        let mut args = vec!["list", "--base-url", &base, "-q"];
        args.extend(json.then_some("--json"));
        quiet(&closed_stdout(&args).await, CLOSED_PIPE, &args.join(" "));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn status_stops_quietly() {
    let sim = sim().await;
    let base = sim.base_url();
    for json in [false, true] {
        let mut args = vec!["status", sim.batch_id(), "--base-url", &base, "-q"];
        args.extend(json.then_some("--json"));
        quiet(&closed_stdout(&args).await, CLOSED_PIPE, &args.join(" "));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fetch_json_stops_quietly_with_every_row_written() {
    let sim = sim().await;
    let base = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.sqlite");
    let o = db.to_str().unwrap();
    let args = [
        "fetch",
        sim.batch_id(),
        "-o",
        o,
        "--base-url",
        &base,
        "--json",
        "-q",
    ];
    quiet(&closed_stdout(&args).await, CLOSED_PIPE, "fetch --json");
    let rows = query(&db, "SELECT count(*) AS n FROM results");
    assert_eq!(rows[0]["n"], 20, "the rows are written before the summary");
}

#[tokio::test(flavor = "multi_thread")]
async fn cost_stops_quietly_in_every_format() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.sqlite");
    export(&sim, &db).await;
    let o = db.to_str().unwrap();
    for format in [
        &["--json"][..],
        &["--format", "table"],
        &["--format", "csv"],
        &["--format", "markdown"],
    ] {
        let mut args = vec!["cost", o, "-q"];
        args.extend(format);
        quiet(&closed_stdout(&args).await, CLOSED_PIPE, &args.join(" "));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_json_stops_quietly() {
    let sim = sim().await;
    let base = sim.base_url();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.sqlite");
    let o = db.to_str().unwrap();
    let args = ["sync", "-o", o, "--base-url", &base, "--json", "-q"];
    quiet(&closed_stdout(&args).await, CLOSED_PIPE, "sync --json");
}

#[tokio::test(flavor = "multi_thread")]
async fn completions_stop_quietly() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let args = ["completions", shell];
        quiet(&closed_stdout(&args).await, CLOSED_PIPE, shell);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn help_and_version_stop_quietly() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["help"],
        &["help", "fetch"],
        &["fetch", "--help"],
        &["--version"],
    ] {
        quiet(&closed_stdout(args).await, CLOSED_PIPE, &args.join(" "));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_stops_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.sqlite");
    let args = ["demo", "--requests", "40", "-o", db.to_str().unwrap(), "-q"];
    quiet(&closed_stdout(&args).await, CLOSED_PIPE, "demo");
    assert!(db.exists(), "the export is written before the report");
}

#[tokio::test(flavor = "multi_thread")]
async fn load_prints_nothing_on_stdout() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("l.parquet");
    export(&sim, &pq).await;
    let db = dir.path().join("l.sqlite");
    let args = [
        "load",
        pq.to_str().unwrap(),
        "-o",
        db.to_str().unwrap(),
        "-q",
    ];
    quiet(&closed_stdout(&args).await, 0, "load");
    let rows = query(&db, "SELECT count(*) AS n FROM results");
    assert_eq!(rows[0]["n"], 20);
}
