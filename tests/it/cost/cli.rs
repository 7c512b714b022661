//! `sail-export cost` as a user sees it: every output format, `--batch`, `--by day`, usage
//! anomalies, and bad input (exit 2 naming the path or the price file's line).

use crate::cost::{cost_json, export, export_parquet, group, mixed, price_file, row, T0};
use crate::harness::*;
#[tokio::test]
async fn every_format_reports_the_same_figures() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "x.sqlite", &mixed());
    let before = std::fs::read(&db).unwrap();
    let r = cost_json(&db, &[]).await;
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "cost never writes to the export"
    );
    // 0.632 + 3.50 + 0.21 + 0.05 + 0.00022 (see mixed()).
    assert_eq!(r["total"]["cost_usd"], 4.39222);
    assert_eq!(r["total"]["requests"], 7);
    assert_eq!(r["total"]["unpriced_requests"], 2);
    assert_eq!(r["total"]["no_usage_requests"], 1);
    assert_eq!(r["not_fetched_requests"], 2);
    assert_eq!(r["total"]["asap_cost_usd"], 6.578906);
    assert_eq!(
        r["total"]["savings_basis_requests"], 4,
        "Qwen has no asap price"
    );
    assert_eq!(r["rows"].as_array().unwrap().len(), 6);

    let csv = run(&["cost", db.to_str().unwrap(), "--format", "csv"]).await;
    assert_eq!(csv.code, 0, "{csv:?}");
    let mut rd = csv::Reader::from_reader(csv.stdout.as_bytes());
    let head = rd.headers().unwrap().clone();
    assert_eq!(&head[0], "model");
    assert_eq!(&head[1], "completion_window");
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let recs: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(recs.len(), 6, "one line per group, no total line");
    let line = |m: &str, w: &str| {
        recs.iter()
            .find(|r| &r[0] == m && &r[1] == w)
            .unwrap()
            .clone()
    };
    assert_eq!(
        &line("zai-org/GLM-5.3", "24h")[col("cost_usd")],
        "0.00022",
        "exact decimals"
    );
    assert_eq!(&line("zai-org/GLM-5.3", "standard")[col("cost_usd")], "3.5");
    assert_eq!(
        &line("acme/unknown-1", "flex")[col("cost_usd")],
        "",
        "unpriced is empty, not 0"
    );
    assert_eq!(
        &line("moonshotai/Kimi-K3", "balanced")[col("asap_cost_usd")],
        "0.2625"
    );

    // --wide: every column, 'at asap' included (the default leaves out what does not fit).
    let table = run(&["cost", db.to_str().unwrap(), "--wide"]).await;
    assert_eq!(table.code, 0);
    assert!(table.stdout.contains("$4.3922"), "{}", table.stdout);
    assert!(table.stdout.contains("$6.5789"), "{}", table.stdout);
    assert!(
        table
            .stdout
            .contains("warning: 2 of 7 requests are unpriced"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains("prices: version 2026-10-07"),
        "{}",
        table.stdout
    );

    let md = run(&["cost", db.to_str().unwrap(), "--format", "markdown"]).await;
    assert_eq!(md.code, 0);
    assert!(
        md.stdout
            .lines()
            .any(|l| l.starts_with("| model") && l.contains("| cost")),
        "{}",
        md.stdout
    );
    assert!(md.stdout.contains("| **total**"), "{}", md.stdout);
    assert!(
        md.stdout
            .contains("> warning: 2 of 7 requests are unpriced"),
        "{}",
        md.stdout
    );
}

#[tokio::test]
async fn batch_filters_rows_and_day_groups_by_utc_date() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = export(dir.path(), "x.sqlite", &mixed());
    let parquet = export_parquet(dir.path(), "x.parquet", &mixed());
    for db in [&sqlite, &parquet] {
        let r = cost_json(db, &["--batch", "batch_b", "--by", "day,batch_id"]).await;
        let rows = r["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{r:#}");
        assert_eq!(rows[0]["day"], "2026-09-22");
        assert_eq!(rows[0]["batch_id"], "batch_b");
        assert_eq!(rows[0]["cost_usd"], 0.05022);
        assert_eq!(rows[0]["requests"], 3);
        assert_eq!(r["not_fetched_requests"], 2);
        // `batch` is another name for batch_id.
        let alias = cost_json(db, &["--batch", "batch_b", "--by", "day,batch"]).await;
        assert_eq!(alias, r);
        let by_day = cost_json(db, &["--by", "day"]).await;
        assert_eq!(group(&by_day, &[("day", "2026-09-21")])["cost_usd"], 4.342);
        let out = run(&["cost", db.to_str().unwrap(), "--batch", "batch_z"]).await;
        assert_eq!(out.code, 2, "{out:?}");
        assert!(
            out.stderr.contains("--batch 'batch_z' has no rows")
                && out.stderr.contains("it holds batch_a, batch_b"),
            "{}",
            out.stderr
        );
    }
    let db = &sqlite;
    let out = run(&["cost", db.to_str().unwrap(), "--by", "model,colour"]).await;
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--by 'colour' is not a key"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn usage_anomalies_are_flagged_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut odd = row(
        "b",
        "odd",
        "zai-org/GLM-5.3",
        Some("flex"),
        T0,
        [10, 20, 5, 9],
    );
    odd.total_tokens = Some(99);
    odd.prompt_tokens = Some(11);
    odd.completion_tokens = Some(5);
    let mut fine = row(
        "b",
        "fine",
        "zai-org/GLM-5.3",
        Some("flex"),
        T0,
        [10, 0, 5, 0],
    );
    fine.prompt_tokens = Some(10);
    fine.completion_tokens = Some(5);
    let db = export(dir.path(), "x.sqlite", &[odd, fine]);
    let r = cost_json(&db, &[]).await;
    let a = &r["total"]["anomalies"];
    assert_eq!(a["cached_gt_input"], 1);
    assert_eq!(a["reasoning_gt_output"], 1);
    assert_eq!(a["total_ne_sum"], 1);
    assert_eq!(a["alias_mismatch"], 1);
    // cached is capped at input for billing: odd = 10·0.08 + 5·1.80 = 9.8; fine = 10·0.40 + 5·1.80 = 13.
    assert_eq!(r["total"]["cost_usd"], 0.0000228);
}

#[tokio::test]
async fn a_bad_path_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.sqlite");
    let out = run(&["cost", missing.to_str().unwrap()]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("cannot read export '") && out.stderr.contains("nope.sqlite"),
        "{}",
        out.stderr
    );
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let out = run(&["cost", text.to_str().unwrap()]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("notes.txt' is not a sail-export export"),
        "{}",
        out.stderr
    );
    let empty_dir = dir.path().join("parts");
    std::fs::create_dir(&empty_dir).unwrap();
    let out = run(&["cost", empty_dir.to_str().unwrap()]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("a directory with no .parquet files"),
        "{}",
        out.stderr
    );
    let other = dir.path().join("other.sqlite");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    let out = run(&["cost", other.to_str().unwrap()]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("no results table"), "{}", out.stderr);
}

#[tokio::test]
async fn a_malformed_price_file_exits_2_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "x.sqlite", &mixed());
    let cases = [
        ("version = \"v\"\n[[price]]\nmodel = \"m\"\nwindow = \"flex\"\ninput = -1\ncached_input = 0\noutput = 1\n", &["line 5", "`input` = -1"][..]),
        ("version = \"v\"\n[[price]]\nmodel = \"m\"\nwindow = \"flex\"\ninput = 1\ncached_imput = 0\noutput = 1\n", &["line 6", "cached_imput"][..]),
        ("version = \"v\"\n[[price]]\nmodel = \"m\"\nwindow = \"flex\"\ninput = \"cheap\"\ncached_input = 0\noutput = 1\n", &["line 5"][..]),
        ("version = \"v\"\n[[price]]\nmodel = \"m\"\nwindow = \"flex\"\ninput = 1\ncached_input = 0\noutput = 1\neffective_from = \"2026-02-30\"\n", &["line 8", "effective_from"][..]),
        ("version = \"v\"\n[window_aliases]\nstandard = \"flex\"\n", &["'balanced' points to 'standard', which is itself an alias"][..]),
        ("source = \"no version\"\n", &["version"][..]),
    ];
    for (text, wants) in cases {
        let p = price_file(dir.path(), text);
        let out = run(&[
            "cost",
            db.to_str().unwrap(),
            "--prices",
            p.to_str().unwrap(),
        ])
        .await;
        assert_eq!(out.code, 2, "{text}\n{out:?}");
        assert!(
            out.stderr.contains("prices.toml'"),
            "names the file: {}",
            out.stderr
        );
        for w in wants {
            assert!(out.stderr.contains(w), "{w:?} missing in: {}", out.stderr);
        }
        assert!(out.stdout.is_empty(), "no report on a bad price file");
    }
    let out = run(&[
        "cost",
        db.to_str().unwrap(),
        "--prices",
        "/nonexistent/p.toml",
    ])
    .await;
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("cannot read --prices '/nonexistent/p.toml'"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_written_by_fetch_is_priced_and_queryable() {
    let server = wiremock::MockServer::start().await;
    serve_results(
        &server,
        "batch_e",
        &[
            ("a", completed("a", 1_000_000, 400_000, 200_000, 150_000)),
            ("b", completed("b", 10, 0, 5, 0)),
        ],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ids = manifest(dir.path(), &["a", "b"]);
    let db = dir.path().join("e.sqlite");
    let fetch = fetch(&server, "batch_e", &ids, &db, &[]).await;
    assert_eq!(fetch.code, 0, "{fetch:?}");
    let r = cost_json(&db, &["--strict"]).await;
    // a: $0.632 (see the formula test); b: 10·0.40 + 5·1.80 = 13 → $0.000013.
    assert_eq!(r["total"]["cost_usd"], 0.632013);
    assert_eq!(r["rows"][0]["completion_window"], "flex");
    let view = query(
        &db,
        "SELECT SUM(cost_usd) AS c, COUNT(*) AS n FROM result_costs",
    );
    assert!(
        (view[0]["c"].as_f64().unwrap() - 0.632013).abs() < 1e-12,
        "{view:?}"
    );
    assert_eq!(view[0]["n"], 2);
}

#[tokio::test]
async fn cost_help_lists_every_key_with_an_example() {
    let out = run(&["cost", "--help"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    for key in [
        "model",
        "completion_window",
        "batch_id",
        "status",
        "day",
        "month",
    ] {
        let line = out
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no line for '{key}' in:\n{}", out.stdout));
        assert!(line.contains("--by "), "no example for '{key}': {line}");
    }
    assert!(out.stdout.contains("alias batch"), "{}", out.stdout);
}
