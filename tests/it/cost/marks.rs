//! Reports that cannot mislead: at 80 columns a group's cost says how many of its requests
//! it leaves out; a window some rows only got by default is marked `standard*` and
//! explained; the unpriced warning is printed once when both streams reach one reader (the
//! demo's case); `-v` colours its log only on a terminal and never with `NO_COLOR`.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::harness::*;

const BATCH: &str = "batch_marks";

/// A completed response with this model and window (`None`: no window in its metadata).
fn body(id: &str, model: &str, window: Option<&str>) -> Value {
    let mut b = completed(id, 1_000_000, 0, 100_000, 0);
    b["model"] = json!(model);
    b["metadata"] = match window {
        Some(w) => json!({"completion_window": w}),
        None => json!({"job": "eval"}),
    };
    b
}

/// GLM-5.3 at flex (one without usage: unpriced), at standard (one explicit, one without
/// a window), and two requests of a model with no price.
async fn export(dir: &Path) -> PathBuf {
    let glm = "zai-org/GLM-5.3";
    let mut no_usage = body("p4", glm, Some("flex"));
    no_usage["usage"] = Value::Null;
    let items = vec![
        ("p1", body("p1", glm, Some("flex"))),
        ("p2", body("p2", glm, None)),
        ("p3", body("p3", glm, Some("standard"))),
        ("p4", no_usage),
        ("u1", body("u1", "acme/unknown-1", Some("flex"))),
        ("u2", body("u2", "acme/unknown-1", Some("flex"))),
    ];
    let server = wiremock::MockServer::start().await;
    serve_results(&server, BATCH, &items).await;
    let ids: Vec<&str> = items.iter().map(|(i, _)| *i).collect();
    let out = dir.join("marks.sqlite");
    let got = fetch(&server, BATCH, &manifest(dir, &ids), &out, &[]).await;
    assert_eq!(got.code, 0, "{got:?}");
    out
}

/// `cost` with these arguments, stdout piped, `COLUMNS` unset (80 wide).
async fn cost(args: &[&str]) -> Output {
    let mut all = vec!["cost"];
    all.extend(args);
    let mut cmd = command(&all);
    cmd.env_remove("COLUMNS");
    let out = output(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    out
}

/// The table line whose cells start with these (trimmed) values.
fn line<'a>(stdout: &'a str, starts: &[&str]) -> &'a str {
    stdout
        .lines()
        .find(|l| {
            let cells: Vec<&str> = l
                .trim_matches(['│', '|'])
                .split(['┆', '|'])
                .map(str::trim)
                .collect();
            cells.len() > starts.len() && cells.iter().zip(starts).all(|(c, s)| c == s)
        })
        .unwrap_or_else(|| panic!("no line {starts:?} in:\n{stdout}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn at_80_columns_the_cost_names_what_it_leaves_out_and_assumed_windows_are_marked() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path()).await;
    let table = cost(&[db.to_str().unwrap()]).await.stdout;
    let boxed = |l: &&str| l.starts_with(['┌', '│', '╞', '└']);
    assert!(
        table.lines().filter(boxed).all(|l| l.chars().count() <= 80),
        "{table}"
    );
    let glm = "zai-org/GLM-5.3";
    let flex = line(&table, &[glm, "flex"]);
    assert!(
        flex.contains("$") && flex.contains(" + 1 unpriced"),
        "{table}"
    );
    assert!(
        line(&table, &["acme/unknown-1", "flex"]).contains("— + 2 unpriced"),
        "{table}"
    );
    assert!(
        line(&table, &["total"]).contains(" + 3 unpriced"),
        "{table}"
    );
    // p2 (no window) and p3 (standard) are one group, marked, and the note explains it.
    let standard = line(&table, &[glm, "standard*"]);
    assert!(!standard.contains("unpriced"), "{table}");
    assert!(
        table.contains("note: 1 request had no completion_window; priced as 'standard' (Sail's documented batch default), marked 'standard*' in the table"),
        "{table}"
    );
    // Markdown escapes the mark so that it is not read as emphasis.
    let md = cost(&[db.to_str().unwrap(), "--format", "markdown"])
        .await
        .stdout;
    line(&md, &[glm, "standard\\*"]);
    assert!(line(&md, &[glm, "flex"]).contains(" + 1 unpriced"), "{md}");
    // Without a window column nothing is marked, and the note does not point at a mark.
    let by_model = cost(&[db.to_str().unwrap(), "--by", "model"]).await.stdout;
    assert!(!by_model.contains('*'), "{by_model}");
    assert!(by_model.contains("had no completion_window"), "{by_model}");
    // JSON keeps its plain values and counts.
    let json = cost(&[db.to_str().unwrap(), "--json"]).await.stdout;
    let r: Value = serde_json::from_str(&json).unwrap();
    let windows: Vec<&str> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["completion_window"].as_str().unwrap())
        .collect();
    assert!(
        windows.contains(&"standard") && !json.contains("standard*"),
        "{json}"
    );
}

/// Runs `sail-export ARGS` through `sh` with stderr sent where stdout goes; returns what
/// that one stream got.
#[cfg(unix)]
fn merged(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("exec \"$@\" 2>&1")
        .arg("sh")
        .arg(bin())
        .args(args)
        .envs(env.iter().copied())
        .env_remove("COLUMNS")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[cfg(unix)]
const WARNING: &str = "are unpriced and not in the cost";

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn the_unpriced_warning_is_printed_once_where_one_reader_sees_both_streams() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path()).await;
    // Apart (a script reading stdout), stderr still hears of it.
    let apart = cost(&[db.to_str().unwrap()]).await;
    assert_eq!(apart.stdout.matches(WARNING).count(), 1, "{apart:?}");
    assert_eq!(apart.stderr.matches(WARNING).count(), 1, "{apart:?}");
    let both = merged(&["cost", db.to_str().unwrap()], &[]);
    assert_eq!(both.matches(WARNING).count(), 1, "{both}");
    // The demo (its simulated batch has requests of models without a price).
    let demo = dir.path().join("demo.sqlite");
    let both = merged(
        &[
            "demo",
            "--requests",
            "300",
            "--seed",
            "7",
            "-o",
            demo.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(both.matches(WARNING).count(), 1, "{both}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn the_log_is_coloured_only_on_a_terminal_and_never_with_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path()).await;
    let args = ["-v", "cost", db.to_str().unwrap()];
    // Into a file or a pipe: plain text, with the log lines there.
    let log = merged(&args, &[]);
    assert!(log.contains("INFO"), "{log}");
    assert!(!log.contains('\u{1b}'), "ANSI in a piped log: {log:?}");
    // On a terminal (script(1) gives one): coloured, unless NO_COLOR says not to.
    let on_tty = |no_color: Option<&str>| {
        let line = format!(
            "'{}' -v cost '{}' >/dev/null",
            bin().display(),
            db.display()
        );
        let mut cmd = std::process::Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"]);
        cmd.env_remove("NO_COLOR");
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        cmd.output().ok().filter(|o| o.status.success())
    };
    let Some(coloured) = on_tty(None) else {
        eprintln!("SKIPPED: the terminal half (no script(1) here)");
        return;
    };
    let coloured = String::from_utf8_lossy(&coloured.stdout).into_owned();
    assert!(
        coloured.contains("INFO") && coloured.contains('\u{1b}'),
        "{coloured:?}"
    );
    let plain = on_tty(Some("1")).unwrap();
    let plain = String::from_utf8_lossy(&plain.stdout).into_owned();
    assert!(
        plain.contains("INFO") && !plain.contains('\u{1b}'),
        "{plain:?}"
    );
}
