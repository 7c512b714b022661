//! Rows priced by the price in force on their day, across the two pages the bundled table
//! carries; the unknown-change rule in every report; the SQLite view agreeing with `cost`.

use serde_json::Value;

use super::*;

const GLM: &str = "zai-org/GLM-5.3";
/// 1M input and 1M output tokens: at GLM-5.3 asap, $5.80 by the August page, $4.06 by October's.
const MILLION: [i64; 3] = [1_000_000, 0, 1_000_000];

#[tokio::test]
async fn a_glm_asap_row_of_august_and_one_of_october_are_priced_by_their_own_page() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        row("aug", GLM, Some("asap"), "2026-08-15", MILLION),
        row("oct", GLM, Some("asap"), "2026-10-15", MILLION),
    ];
    let db = export(dir.path(), "x.sqlite", &rows);
    let r = cost_json(dir.path(), &db, &["--by", "day"]).await;
    let day = |d: &str| group(&r, &[("day", d)]).clone();
    assert_eq!(day("2026-08-15")["cost_usd"], 5.8, "1.40 + 4.40: {r:#}");
    assert_eq!(day("2026-10-15")["cost_usd"], 4.06, "0.98 + 3.08");
    // August's row lies between the page of 2026-08-01 and the list of 2026-09-21.
    assert_eq!(day("2026-08-15")["uncertain_requests"], 1);
    assert_eq!(day("2026-08-15")["uncertain_cost_low_usd"], 4.06);
    assert_eq!(day("2026-08-15")["uncertain_cost_high_usd"], 5.8);
    assert_eq!(day("2026-10-15")["uncertain_requests"], 0);
    assert_eq!(day("2026-10-15")["uncertain_cost_low_usd"], Value::Null);
}

/// GLM-5.3 asap rows r0..r5: before the first observation, on it, two between the
/// observations that disagree, on the later one, and after.
fn glm_asap_rows() -> Vec<sail_export::row::Row> {
    let days = [
        "2026-07-20",
        "2026-08-01",
        "2026-08-02",
        "2026-09-20",
        "2026-09-21",
        "2026-10-15",
    ];
    days.iter()
        .enumerate()
        .map(|(i, d)| row(&format!("r{i}"), GLM, Some("asap"), d, MILLION))
        .collect()
}

#[tokio::test]
async fn rows_where_the_change_day_is_unknown_are_counted_in_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "x.sqlite", &glm_asap_rows());
    let r = cost_json(dir.path(), &db, &[]).await;
    let t = &r["total"];
    // Only 08-02 and 09-20: 07-20 is before the first observation, 08-01 and 09-21 were seen.
    assert_eq!(t["uncertain_requests"], 2, "{r:#}");
    assert_eq!(t["uncertain_cost_low_usd"], 8.12);
    assert_eq!(t["uncertain_cost_high_usd"], 11.6);
    // Priced at the earlier observation: 4 × 5.80 + 2 × 4.06.
    assert_eq!(t["cost_usd"], 31.32);
    assert_eq!(r["uncertain"][0]["model"], GLM);
    assert_eq!(r["uncertain"][0]["requests"], 2);

    let table = run_in(dir.path(), &["cost", db.to_str().unwrap()]).await;
    let note = "2 requests fall between two observations of a price that disagree";
    assert!(table.stdout.contains(note), "{}", table.stdout);
    assert!(
        table.stdout.contains("between $8.1200 and $11.6000"),
        "{}",
        table.stdout
    );
    let md = run_in(
        dir.path(),
        &["cost", db.to_str().unwrap(), "--format", "markdown"],
    )
    .await;
    assert!(md.stdout.contains(note), "{}", md.stdout);
    let json_run = run_in(dir.path(), &["cost", db.to_str().unwrap(), "--json"]).await;
    assert!(
        json_run.stderr.contains(note),
        "a script hears of it: {}",
        json_run.stderr
    );
}

/// The CSV report's columns and `--rows`'s per-row range.
#[tokio::test]
async fn csv_and_per_row_costs_carry_the_range_of_uncertain_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "x.sqlite", &glm_asap_rows());
    let csv = run_in(
        dir.path(),
        &["cost", db.to_str().unwrap(), "--format", "csv"],
    )
    .await;
    let mut lines = csv.stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let line: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(line[col("uncertain_requests")], "2", "{}", csv.stdout);
    assert_eq!(line[col("uncertain_cost_low_usd")], "8.12");
    assert_eq!(line[col("uncertain_cost_high_usd")], "11.6");

    let out = dir.path().join("rows.csv");
    let rows_run = run_in(
        dir.path(),
        &[
            "cost",
            db.to_str().unwrap(),
            "--rows",
            "-o",
            out.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(rows_run.code, 0, "{rows_run:?}");
    assert!(
        rows_run.stderr.contains("2 of those rows fall between"),
        "{}",
        rows_run.stderr
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let ranged: Vec<(String, String, String)> = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| !f[col("cost_low_usd")].is_empty())
        .map(|f| {
            (
                f[1].to_owned(),
                f[col("cost_low_usd")].to_owned(),
                f[col("cost_high_usd")].to_owned(),
            )
        })
        .collect();
    assert_eq!(
        ranged,
        [
            ("r2".into(), "4.06".into(), "5.8".into()),
            ("r3".into(), "4.06".into(), "5.8".into())
        ]
    );
}

#[tokio::test]
async fn models_only_on_the_august_page_are_priced_and_standard_is_the_page_s_balanced() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        row(
            "g52",
            "zai-org/GLM-5.2-FP8",
            Some("flex"),
            "2026-08-10",
            MILLION,
        ),
        row(
            "nem",
            "nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-BF16",
            Some("flex"),
            "2026-08-10",
            MILLION,
        ),
        row("std", GLM, Some("standard"), "2026-10-15", MILLION),
        row("bal", GLM, Some("balanced"), "2026-10-15", MILLION),
    ];
    let db = export(dir.path(), "x.sqlite", &rows);
    let r = cost_json(dir.path(), &db, &["--by", "model,completion_window"]).await;
    assert_eq!(r["total"]["unpriced_requests"], 0, "{r:#}");
    let cost =
        |m: &str, w: &str| group(&r, &[("model", m), ("completion_window", w)])["cost_usd"].clone();
    assert_eq!(cost("zai-org/GLM-5.2-FP8", "flex"), 2.2, "0.40 + 1.80");
    assert_eq!(
        cost("nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-BF16", "flex"),
        1.0
    );
    assert_eq!(cost(GLM, "standard"), 3.0, "Balanced: 0.50 + 2.50");
    assert_eq!(cost(GLM, "balanced"), 3.0);
    let aliases = r["assumptions"]["window_aliases_used"].as_array().unwrap();
    assert_eq!(aliases.len(), 1, "standard is priced directly: {aliases:?}");
    assert_eq!(aliases[0]["completion_window"], "balanced");
    assert_eq!(aliases[0]["priced_as"], "standard");
}

#[tokio::test]
async fn an_undated_price_file_is_in_force_on_every_day() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        row("aug", GLM, Some("asap"), "2026-08-15", MILLION),
        row("oct", GLM, Some("asap"), "2026-10-15", MILLION),
    ];
    let db = export(dir.path(), "x.sqlite", &rows);
    let file = dir.path().join("mine.toml");
    std::fs::write(
        &file,
        "version = \"mine\"\n[[price]]\nmodel = \"zai-org/GLM-5.3\"\nwindow = \"asap\"\ninput = 1\ncached_input = 0.1\noutput = 2\n",
    )
    .unwrap();
    let r = cost_json(
        dir.path(),
        &db,
        &["--by", "day", "--prices", file.to_str().unwrap()],
    )
    .await;
    for d in ["2026-08-15", "2026-10-15"] {
        assert_eq!(group(&r, &[("day", d)])["cost_usd"], 3.0, "{r:#}");
    }
    assert_eq!(
        r["total"]["uncertain_requests"], 0,
        "its history replaces the bundled one"
    );
}

/// Every row's `result_costs.cost_usd` equals `cost --rows`'s exact figure to the nano-dollar.
#[tokio::test]
async fn the_view_prices_by_date_as_cost_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    for (i, d) in [
        "2026-07-01",
        "2026-08-01",
        "2026-08-20",
        "2026-09-21",
        "2026-10-07",
        "2026-11-30",
    ]
    .iter()
    .enumerate()
    {
        let u = [3_000_000 + i as i64, 1_234_567, 777_777];
        rows.push(row(&format!("g{i}"), GLM, Some("asap"), d, u));
        rows.push(row(
            &format!("n{i}"),
            "nvidia/Gemma-4-31B-IT-NVFP4",
            None,
            d,
            u,
        ));
        rows.push(row(
            &format!("q{i}"),
            "Qwen/Qwen3.6-35B-A3B",
            Some("flex"),
            d,
            u,
        ));
        rows.push(row(
            &format!("k{i}"),
            "zai-org/GLM-5.2-FP8",
            Some("Balanced"),
            d,
            u,
        ));
    }
    let db = export(dir.path(), "x.sqlite", &rows);
    let out = dir.path().join("rows.csv");
    let run = run_in(
        dir.path(),
        &[
            "cost",
            db.to_str().unwrap(),
            "--rows",
            "-o",
            out.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "cost_usd").unwrap();
    let want: std::collections::HashMap<String, f64> = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .map(|f| (f[1].to_owned(), f[col].parse().unwrap()))
        .collect();
    let view = query(&db, "SELECT custom_id, cost_usd FROM result_costs");
    assert_eq!(view.len(), 24);
    let distinct: std::collections::BTreeSet<String> =
        want.values().map(|v| format!("{v:.9}")).collect();
    assert!(
        distinct.len() > 12,
        "the rows are priced differently by day: {distinct:?}"
    );
    for v in view {
        let id = v["custom_id"].as_str().unwrap();
        let got = v["cost_usd"]
            .as_f64()
            .unwrap_or_else(|| panic!("{id} unpriced in the view"));
        assert!(
            (got - want[id]).abs() < 1e-9,
            "{id}: view {got} vs cost {}",
            want[id]
        );
    }
}
