//! The SQL people run on their own SQLite, not the one bundled in the binary: the
//! `result_costs` view and every `examples/queries/*.sql`, through Python's stdlib `sqlite3`
//! module and the `sqlite3` CLI, on exports the real binary wrote (a fresh `demo`, and an
//! export made before migration 0003 and upgraded by a later `fetch`). The view's
//! `SUM(cost_usd)` must equal `cost --format json`'s total.
//!
//! A missing system SQLite is a failure, not a skip: at least one of the two must be there,
//! and under `CI=true` both (`.ci/run` installs the CLI).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::cost::cost_json;
use crate::harness::*;

/// Runs the view and each query file given on the command line through Python's stdlib
/// `sqlite3` on a read-only connection; prints one JSON object.
const PYTHON_CHECK: &str = r#"
import json, pathlib, sqlite3, sys
from datetime import datetime, timezone

db, files = sys.argv[1], sys.argv[2:]
conn = sqlite3.connect(pathlib.Path(db).resolve().as_uri() + "?mode=ro", uri=True)
out = {"version": sqlite3.sqlite_version, "queries": {}}
for f in files:
    try:
        rows = conn.execute(pathlib.Path(f).read_text()).fetchall()
        out["queries"][f] = {"rows": len(rows)}
    except sqlite3.Error as e:
        out["queries"][f] = {"error": str(e)}
try:
    total, priced, n = conn.execute(
        "SELECT SUM(cost_usd), COUNT(cost_usd), COUNT(*) FROM result_costs").fetchone()
    out["sum"], out["priced"], out["view_rows"] = total, priced, n
    bad = []
    for cid, t, iso in conn.execute(
            "SELECT custom_id, created_at, created_at_utc FROM result_costs"):
        want = None if t is None else \
            datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if iso != want:
            bad.append([cid, t, iso, want])
    out["utc_mismatches"] = bad[:5]
    out["utc_checked"] = n
except sqlite3.Error as e:
    out["view_error"] = str(e)
print(json.dumps(out))
"#;

/// A Python whose stdlib `sqlite3` module loads: `SAIL_EXPORT_PYTHON`, else `python3`.
fn python_with_sqlite() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SAIL_EXPORT_PYTHON").map(PathBuf::from),
        Some(PathBuf::from("python3")),
    ];
    candidates.into_iter().flatten().find(|py| {
        Command::new(py)
            .args(["-c", "import sqlite3"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// The `sqlite3` command-line shell on `PATH`, with its version line.
fn sqlite_cli() -> Option<(PathBuf, String)> {
    let out = Command::new("sqlite3").arg("-version").output().ok()?;
    out.status.success().then(|| {
        let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (PathBuf::from("sqlite3"), v)
    })
}

/// Every `examples/queries/*.sql`, sorted.
fn example_queries() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/queries");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "{files:?}");
    files
}

/// What the view must hold, from `cost --format json` on the same file.
struct Expected {
    /// `total.cost_usd`: the exact integer sum, rounded once to f64.
    cost_usd: f64,
    /// `total.priced_requests`: rows the view sums.
    priced: i64,
    /// `total.requests`: fetched rows, one view row each.
    requests: i64,
}

async fn expected(db: &Path) -> Expected {
    let report = cost_json(db, &[]).await;
    let t = &report["total"];
    let e = Expected {
        cost_usd: t["cost_usd"].as_f64().unwrap(),
        priced: t["priced_requests"].as_i64().unwrap(),
        requests: t["requests"].as_i64().unwrap(),
    };
    assert!(e.cost_usd > 0.0 && e.priced > 0, "{report:#}");
    e
}

/// How far the view's REAL sum may be from the tool's exact total.
///
/// `cost` sums exact integers (femto-dollars); the view works in binary floating point. Per
/// row: the REAL prices (0.40 has no exact binary form), three products, two additions and the
/// division by 1e6 each round once, a relative error of at most 2^-53 apiece, and every term
/// is non-negative, so nothing cancels. `SUM` then adds the n row costs; plain summation (old
/// releases; newer ones compensate, which is only tighter) adds at most (n - 1)·2^-53 of the
/// total. To first order the view is within (n + 6)·2^-53·total of the exact figure, and the
/// JSON total is that exact figure rounded once (half an ulp). We allow twice the bound,
/// (n + 10)·2^-52·total: about 2e-13 USD for the 600-request demo (the gap measured there is
/// under 1e-15). A row priced wrongly moves the total by far more: a price off by $0.001 per
/// 1M tokens, on a row of 1,000 tokens, is already 1e-9 USD.
fn tolerance(e: &Expected) -> f64 {
    (e.priced as f64 + 10.0) * f64::EPSILON * e.cost_usd
}

/// The system SQLites present: at least one, or the test fails here.
struct SystemSqlite {
    python: Option<PathBuf>,
    cli: Option<(PathBuf, String)>,
}

fn system_sqlite() -> SystemSqlite {
    let python = python_with_sqlite();
    let cli = sqlite_cli();
    assert!(
        python.is_some() || cli.is_some(),
        "no system SQLite to test the SQL with: neither a Python with the stdlib sqlite3 \
         module (SAIL_EXPORT_PYTHON or python3) nor the sqlite3 CLI (apt-get install sqlite3)"
    );
    assert!(
        cli.is_some() || std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but no sqlite3 CLI on PATH (.ci/run installs it)"
    );
    SystemSqlite { python, cli }
}

/// Runs the view and every example query through each system SQLite present, and asserts
/// that each succeeds and returns rows, and that the view agrees with `cost`.
fn check_with_system_sqlite(sys: &SystemSqlite, db: &Path, e: &Expected) {
    let queries = example_queries();
    let tol = tolerance(e);

    if let Some(py) = &sys.python {
        let mut cmd = Command::new(py);
        cmd.args(["-c", PYTHON_CHECK]).arg(db).args(&queries);
        let out = cmd.output().expect("run python");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "python sqlite3 check failed: {stderr}"
        );
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        let version = r["version"].as_str().unwrap().to_string();
        eprintln!("python sqlite3 module: SQLite {version}");
        let ctx = format!("Python's sqlite3 (SQLite {version}) on {}", db.display());
        assert!(r.get("view_error").is_none(), "{ctx}: result_costs: {r}");
        for q in &queries {
            let got = &r["queries"][q.to_str().unwrap()];
            assert!(got.get("error").is_none(), "{ctx}: {}: {got}", q.display());
            let rows = got["rows"].as_i64().unwrap();
            assert!(rows > 0, "{ctx}: {}: no rows", q.display());
        }
        assert_eq!(
            r["view_rows"], e.requests,
            "{ctx}: one view row per fetched result"
        );
        assert_eq!(r["priced"], e.priced, "{ctx}: rows with a cost");
        let sum = r["sum"].as_f64().unwrap();
        assert!(
            (sum - e.cost_usd).abs() <= tol,
            "{ctx}: SUM(cost_usd) = {sum:e}, cost says {:e} (tolerance {tol:e})",
            e.cost_usd
        );
        assert_eq!(r["utc_checked"], e.requests, "{ctx}");
        assert_eq!(
            r["utc_mismatches"],
            serde_json::json!([]),
            "{ctx}: created_at_utc"
        );
    }

    if let Some((cli, version)) = &sys.cli {
        eprintln!("sqlite3 CLI: {version}");
        let ctx = format!("sqlite3 CLI ({version}) on {}", db.display());
        let run = |sql_file: Option<&Path>, sql: &str| {
            let mut cmd = Command::new(cli);
            cmd.args(["-batch", "-bail", "-readonly"]).arg(db);
            match sql_file {
                Some(f) => cmd.stdin(std::fs::File::open(f).unwrap()),
                None => cmd.arg(sql).stdin(Stdio::null()),
            };
            let out = cmd.output().expect("run sqlite3");
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            let what = sql_file.map_or(sql.to_string(), |f| f.display().to_string());
            assert!(
                out.status.success() && stderr.is_empty(),
                "{ctx}: {what}: exit {:?}: {stderr}",
                out.status.code()
            );
            stdout
        };
        for q in &queries {
            let stdout = run(Some(q), "");
            assert!(
                stdout.lines().count() > 0,
                "{ctx}: {}: no rows",
                q.display()
            );
        }
        let line = run(None, "SELECT SUM(cost_usd), COUNT(*) FROM result_costs");
        let (sum, n) = line.trim().split_once('|').unwrap();
        assert_eq!(n.parse::<i64>().unwrap(), e.requests, "{ctx}");
        let sum: f64 = sum.parse().unwrap();
        // The shell prints a REAL with 15 significant digits (up to 5e-15 of the value off).
        let tol = tol + 1e-14 * e.cost_usd;
        assert!(
            (sum - e.cost_usd).abs() <= tol,
            "{ctx}: SUM(cost_usd) = {sum:e}, cost says {:e} (tolerance {tol:e})",
            e.cost_usd
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_view_and_every_example_query_run_on_the_system_sqlite() {
    let sys = system_sqlite();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.sqlite");
    let out = run(&["demo", "--requests", "600", "--out", db.to_str().unwrap()]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let e = expected(&db).await;
    check_with_system_sqlite(&sys, &db, &e);
}

/// An export written before 0003 (its file ran 0001 and 0002 only) gets the new view from
/// the migrator when the binary next writes to it.
#[tokio::test]
async fn an_export_from_before_migration_3_is_upgraded_by_the_next_fetch() {
    let sys = system_sqlite();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.sqlite");
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let count = std::fs::read_dir(&migrations)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sql")
        })
        .count();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        for name in ["0001_init.sql", "0002_prices.sql"] {
            let sql = std::fs::read_to_string(migrations.join(name)).unwrap();
            conn.execute_batch(&sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
    }

    let server = wiremock::MockServer::start().await;
    serve_results(
        &server,
        "batch_old",
        &[
            ("a", completed("a", 1_000_000, 400_000, 200_000, 150_000)),
            ("b", completed("b", 10, 0, 5, 0)),
        ],
    )
    .await;
    // "gone" is not served: a not_found row, so the failures query has something to show.
    let ids = manifest(dir.path(), &["a", "b", "gone"]);
    let out = fetch(&server, "batch_old", &ids, &db, &[]).await;
    assert_eq!(out.code, 3, "exit 3 for the not_found id: {out:?}");
    let version = query(&db, "PRAGMA user_version");
    assert_eq!(
        version[0]["user_version"], count as i64,
        "migrated to the newest"
    );

    let e = expected(&db).await;
    // a: $0.632, b: $0.000013 at the flex price (see cost_cli).
    assert_eq!(e.cost_usd, 0.632013);
    check_with_system_sqlite(&sys, &db, &e);
}
