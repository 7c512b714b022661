//! `sail-export cost` as people read it: a table that fits the terminal (or 80 characters
//! when piped) with every number and model name whole, `--wide`, `--since` / `--until`,
//! `--by month`, `--json`, and the unpriced warning on stderr in every format.

use std::path::Path;

use crate::cost::{cost_json, export, group, mixed, row, T0, T1};
use crate::harness::*;

/// 2026-10-01 00:00:00 UTC.
const OCT1: i64 = 1_790_812_800;

/// Runs `cost` with `COLUMNS` set (or unset), stdout piped.
async fn cost_with_columns(columns: Option<&str>, args: &[&str]) -> Output {
    let mut all = vec!["cost"];
    all.extend(args);
    let mut cmd = command(&all);
    match columns {
        Some(c) => cmd.env("COLUMNS", c),
        None => cmd.env_remove("COLUMNS"),
    };
    let out = output(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    out
}

/// The lines of the box table (not the notes under it).
fn table_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| l.starts_with(['┌', '│', '╞', '└']))
        .collect()
}

/// Asserts the table is at most `width` characters wide and no row wrapped: every body
/// line has as many column separators as the header.
fn assert_fits(stdout: &str, width: usize) {
    let lines = table_lines(stdout);
    assert!(lines.len() > 4, "{stdout}");
    for l in &lines {
        assert!(l.chars().count() <= width, "wider than {width}:\n{stdout}");
    }
    let seps = |l: &str| l.matches('┆').count();
    let rows: Vec<&&str> = lines.iter().filter(|l| l.starts_with('│')).collect();
    assert!(rows.iter().all(|l| seps(l) == seps(rows[0])), "{stdout}");
}

/// Long model names and big figures: the export the 80-column report broke on.
fn wide_export(dir: &Path) -> std::path::PathBuf {
    let rows = vec![
        row(
            "batch_wide_000000001",
            "a",
            "deepseek-ai/DeepSeek-V4-Pro-0813",
            Some("balanced"),
            T0,
            [4_123_456_789, 1_000_000_000, 2_345_678_901, 1_000_000],
        ),
        row(
            "batch_wide_000000001",
            "b",
            "zai-org/GLM-5.3-Flash",
            Some("flex"),
            T0,
            [123_456_789, 0, 45_678_901, 0],
        ),
    ];
    export(dir, "wide.sqlite", &rows)
}

#[tokio::test]
async fn the_default_table_fits_80_characters_when_piped_with_numbers_and_names_whole() {
    let dir = tempfile::tempdir().unwrap();
    let db = wide_export(dir.path());
    let r = cost_json(&db, &[]).await;
    let cost = format!("${:.4}", r["total"]["cost_usd"].as_f64().unwrap());
    let out = cost_with_columns(None, &[db.to_str().unwrap()]).await;
    assert_fits(&out.stdout, 80);
    for whole in [
        "deepseek-ai/DeepSeek-V4-Pro-0813",
        "zai-org/GLM-5.3-Flash",
        cost.as_str(),
    ] {
        assert!(
            out.stdout.contains(whole),
            "{whole} not whole:\n{}",
            out.stdout
        );
    }
    assert!(
        out.stdout
            .contains("columns left out to fit 80 characters: ")
            && out.stdout.contains("--wide shows them all"),
        "{}",
        out.stdout
    );
    let header = table_lines(&out.stdout)[1];
    assert!(
        header.contains("window") && !header.contains("anomalies"),
        "{header}"
    );

    // A terminal of unknown or silly width gets the minimum, not one character a column.
    for silly in ["0", "1", "abc"] {
        let out = cost_with_columns(Some(silly), &[db.to_str().unwrap()]).await;
        assert!(
            out.stdout.contains("deepseek-ai/DeepSeek-V4-Pro-0813"),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains(&cost), "{}", out.stdout);
    }
}

#[tokio::test]
async fn a_wider_terminal_shows_more_columns_and_wide_shows_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let db = wide_export(dir.path());
    let p = db.to_str().unwrap();
    let narrow = cost_with_columns(Some("80"), &[p]).await;
    let roomy = cost_with_columns(Some("140"), &[p]).await;
    assert_fits(&roomy.stdout, 140);
    let columns = |s: &str| table_lines(s)[1].matches('┆').count();
    assert!(
        columns(&roomy.stdout) > columns(&narrow.stdout),
        "{}",
        roomy.stdout
    );
    let wide = cost_with_columns(Some("80"), &[p, "--wide"]).await;
    let header = table_lines(&wide.stdout)[1];
    for h in ["requests", "cached", "at asap", "reasoning %", "anomalies"] {
        assert!(header.contains(h), "{h} missing: {header}");
    }
    assert!(!wide.stdout.contains("columns left out"), "{}", wide.stdout);
}

#[tokio::test]
async fn since_is_inclusive_and_until_exclusive_on_the_utc_day() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "x.sqlite", &mixed());
    // mixed(): 4 fetched rows on 2026-09-21 ($4.342), 3 on 2026-09-22 ($0.05022).
    let late = cost_json(&db, &["--since", "2026-09-22"]).await;
    assert_eq!(late["total"]["requests"], 3);
    assert_eq!(late["total"]["cost_usd"], 0.05022);
    assert_eq!(late["since"], "2026-09-22");
    let early = cost_json(&db, &["--until", "2026-09-22"]).await;
    assert_eq!(early["total"]["requests"], 4);
    assert_eq!(early["total"]["cost_usd"], 4.342);
    assert_eq!(early["until"], "2026-09-22");
    let one_day = cost_json(&db, &["--since", "2026-09-21", "--until", "2026-09-22"]).await;
    assert_eq!(one_day["total"], early["total"]);
    let none = cost_json(&db, &["--since", "2026-09-23"]).await;
    assert_eq!(none["total"]["requests"], 0);
    let table = run(&["cost", db.to_str().unwrap(), "--since", "2026-09-22"]).await;
    assert!(
        table
            .stdout
            .contains("period: created_at from 2026-09-22 (inclusive), UTC"),
        "{}",
        table.stdout
    );

    for (args, wants) in [
        (
            &["--since", "2026-13-01"][..],
            "--since '2026-13-01' is not a date; use YYYY-MM-DD",
        ),
        (
            &["--until", "22/09/2026"][..],
            "--until '22/09/2026' is not a date",
        ),
        (
            &["--since", "2026-09-22", "--until", "2026-09-22"][..],
            "--until 2026-09-22 must be after --since 2026-09-22",
        ),
    ] {
        let mut all = vec!["cost", db.to_str().unwrap()];
        all.extend(args);
        let out = run(&all).await;
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains(wants), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty());
    }
}

#[tokio::test]
async fn month_groups_by_the_utc_month_of_created_at() {
    let dir = tempfile::tempdir().unwrap();
    let glm = "zai-org/GLM-5.3";
    let rows = vec![
        row("b", "sep-a", glm, Some("flex"), T0, [1_000_000, 0, 0, 0]),
        row("b", "sep-b", glm, Some("flex"), T1, [1_000_000, 0, 0, 0]),
        row(
            "b",
            "sep-last",
            glm,
            Some("flex"),
            OCT1 - 1,
            [1_000_000, 0, 0, 0],
        ),
        row(
            "b",
            "oct-first",
            glm,
            Some("flex"),
            OCT1,
            [1_000_000, 0, 0, 0],
        ),
    ];
    let db = export(dir.path(), "x.sqlite", &rows);
    let r = cost_json(&db, &["--by", "month"]).await;
    assert_eq!(r["rows"].as_array().unwrap().len(), 2, "{r:#}");
    assert_eq!(group(&r, &[("month", "2026-09")])["requests"], 3);
    assert_eq!(group(&r, &[("month", "2026-10")])["requests"], 1);
    assert_eq!(group(&r, &[("month", "2026-10")])["cost_usd"], 0.4);
    let sept = cost_json(&db, &["--by", "month", "--until", "2026-10-01"]).await;
    assert_eq!(sept["total"]["requests"], 3);
}

#[tokio::test]
async fn json_is_short_for_format_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "x.sqlite", &mixed());
    let p = db.to_str().unwrap();
    let short = run(&["cost", p, "--json", "--by", "model,day"]).await;
    let long = run(&["cost", p, "--format", "json", "--by", "model,day"]).await;
    assert_eq!(short.code, 0, "{short:?}");
    assert_eq!(short.stdout, long.stdout);
    assert!(short.stdout.starts_with('{'));
    let both = run(&["cost", p, "--json", "--format", "csv"]).await;
    assert_eq!(both.code, 2, "{both:?}");
    assert!(both.stderr.contains("--json"), "{}", both.stderr);
}

#[tokio::test]
async fn every_format_warns_on_stderr_about_requests_it_could_not_price() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "x.sqlite", &mixed());
    let priced = export(dir.path(), "p.sqlite", &mixed()[..3]);
    for format in ["table", "json", "csv", "markdown"] {
        let out = run(&["cost", db.to_str().unwrap(), "--format", format]).await;
        assert_eq!(out.code, 0, "{out:?}");
        assert!(
            out.stderr.contains("warning: 2 of 7 requests are unpriced")
                && out.stderr.contains("'acme/unknown-1' × 'flex' (1)"),
            "{format}: {}",
            out.stderr
        );
        let quiet = run(&["cost", db.to_str().unwrap(), "--format", format, "-q"]).await;
        assert!(
            quiet.stderr.contains("warning: 2 of 7"),
            "-q keeps warnings"
        );
        let out = run(&["cost", priced.to_str().unwrap(), "--format", format]).await;
        assert_eq!(out.code, 0, "{out:?}");
        assert!(!out.stderr.contains("warning"), "{format}: {}", out.stderr);
    }
}
