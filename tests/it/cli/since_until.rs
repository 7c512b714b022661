//! `--since` / `--until` take the same forms on every command that has them: a date, an
//! RFC 3339 date-time, or a duration counting back from now; anything else is a usage error
//! that names the flag and the forms.

use chrono::{DateTime, FixedOffset, SecondsFormat};
use sail_export::time::now_unix;
use serde_json::Value;

use crate::at_scale::{run_sail, sim};
use crate::cost::{cost_json, export, export_parquet, mixed, T0, T1};
use crate::harness::*;

/// `t` as RFC 3339 at a UTC offset of `hours`.
fn rfc3339(t: i64, hours: i32) -> String {
    let zone = FixedOffset::east_opt(hours * 3600).unwrap();
    let at = DateTime::from_timestamp(t, 0).unwrap().with_timezone(&zone);
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A duration that reaches back from now to about `t` (seconds, a margin after it for the
/// time the command takes to start).
fn back_to(t: i64) -> String {
    format!("{}s", now_unix() - t)
}

/// The rows `cost --rows` wrote to a CSV file.
async fn rows_written(export: &std::path::Path, args: &[&str]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("rows.csv");
    let mut all = vec!["cost", export.to_str().unwrap(), "--rows", "-o"];
    all.push(csv.to_str().unwrap());
    all.extend(args);
    let out = run(&all).await;
    assert_eq!(out.code, 0, "{out:?}");
    std::fs::read_to_string(&csv).unwrap().lines().count() - 1
}

#[tokio::test]
async fn cost_takes_a_date_a_date_time_or_a_duration_to_the_second_on_every_input() {
    // mixed(): 4 fetched rows at T0 (2026-09-21T14:13:20Z), 3 at T1, a day later.
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "x.sqlite", &mixed());
    let pq = export_parquet(dir.path(), "x.parquet", &mixed());
    let mid = T0 + 43_200;
    let cases: [(&[&str], u64); 9] = [
        (&["--since", "2026-09-22"], 3),
        (&["--until", "2026-09-22"], 4),
        (&["--since", &rfc3339(T1, 0)], 3),
        (&["--since", &rfc3339(T1 + 1, 0)], 0),
        (&["--until", &rfc3339(T1, 2)], 4),
        (&["--until", &rfc3339(T1 + 1, -5)], 7),
        // Within a day: a bound is a second, not the day around it.
        (&["--since", "2026-09-21T15:00:00Z"], 3),
        (&["--since", &back_to(mid)], 3),
        (&["--until", &back_to(mid), "--since", "2026-09-01"], 4),
    ];
    for (args, want) in cases {
        for path in [&db, &pq] {
            let report = cost_json(path, args).await;
            assert_eq!(report["total"]["requests"], want, "{args:?} on {path:?}");
        }
        assert_eq!(
            rows_written(&db, args).await as u64,
            want,
            "--rows {args:?}"
        );
    }
    let report = cost_json(&db, &["--since", "2026-09-21T15:00:00Z"]).await;
    assert_eq!(report["since"], "2026-09-21T15:00:00Z");
    let report = cost_json(&db, &["--since", "2026-09-21T00:00:00+00:00"]).await;
    assert_eq!(
        report["since"], "2026-09-21",
        "a day's first second reads as the day"
    );
    let bad = run(&[
        "cost",
        db.to_str().unwrap(),
        "--since",
        "2026-09-22T12:00:00Z",
        "--until",
        "2026-09-22",
    ])
    .await;
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(
        bad.stderr
            .contains("--until 2026-09-22 must be after --since 2026-09-22T12:00:00Z"),
        "{}",
        bad.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_since_takes_a_date_a_date_time_or_a_duration() {
    // The main batch is two to three hours old, the others a day older each.
    let sim = sim(5, 3, true).await;
    let list = run_sail(&sim, &["list", "--json"]).await;
    assert_eq!(list.code, 0, "{list:?}");
    let list: Value = serde_json::from_str(&list.stdout).unwrap();
    let newest = list[0]["created_at"].as_i64().unwrap();
    let newest = newest.max(list[2]["created_at"].as_i64().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.sqlite").display().to_string();
    let day_after = DateTime::from_timestamp(newest + 2 * 86_400, 0).unwrap();
    let day_after = day_after.format("%Y-%m-%d").to_string();
    for (since, want) in [
        ("2000-01-01".to_owned(), 3),
        (day_after, 0),
        (rfc3339(newest, 0), 1),
        (rfc3339(newest + 1, 3), 0),
        (rfc3339(newest - 86_400, -7), 2),
        ("30h".to_owned(), 2),
        (back_to(newest - 2 * 86_400 - 60), 3),
    ] {
        let out = run_sail(&sim, &["sync", "-o", &db, "--since", &since, "--json"]).await;
        assert_eq!(out.code, 0, "{since}: {out:?}");
        let report: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(report["batches"], want, "--since {since}: {report}");
    }
}

#[tokio::test]
async fn a_bad_since_or_until_names_the_flag_and_the_forms_on_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "x.sqlite", &mixed());
    let db = db.to_str().unwrap();
    let out = dir.path().join("s.sqlite");
    let out = out.to_str().unwrap();
    for (args, wants) in [
        (
            vec!["cost", db, "--since", "2026-02-30"],
            "--since '2026-02-30' is not a date; use YYYY-MM-DD",
        ),
        (
            vec!["cost", db, "--until", "2026-10-01T12:00"],
            "--until '2026-10-01T12:00' is not a date-time (",
        ),
        (
            vec!["cost", db, "--since", "last week"],
            "--since 'last week' is not a date, a date-time or a duration",
        ),
        (
            vec!["sync", "-o", out, "--since", "2026-13-01"],
            "--since '2026-13-01' is not a date; use YYYY-MM-DD",
        ),
        (
            vec!["sync", "-o", out, "--since", "yesterday"],
            "use a date (2026-10-01), a date-time (2026-10-01T12:00:00Z) or a duration (72h",
        ),
    ] {
        let got = run(&args).await;
        assert_eq!(got.code, 2, "{args:?}: {got:?}");
        assert!(got.stderr.contains(wants), "{args:?}: {}", got.stderr);
        assert!(got.stdout.is_empty(), "{args:?}");
    }
    assert!(
        !std::path::Path::new(out).exists(),
        "a refused sync writes nothing"
    );
}
