//! `cost --format html`: one self-contained page (nothing loaded from anywhere, no script)
//! with every chart, the export's figures in them, and names from the export escaped.

use std::path::{Path, PathBuf};

use sail_export::row::Row;

use crate::cost::{export, mixed, row, T0};
use crate::harness::*;

/// The sections of the page, one per chart (and the notes).
pub const CHARTS: [&str; 6] = [
    "spend-over-time",
    "windows",
    "cache",
    "top",
    "labels",
    "shares",
];

/// Runs `cost PATH --format html -o DIR/report.html` and returns the page.
pub async fn html_report(export: &Path, dir: &Path) -> String {
    let out_path = dir.join("report.html");
    let out = run(&[
        "cost",
        export.to_str().unwrap(),
        "--format",
        "html",
        "-o",
        out_path.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.is_empty(), "-o: nothing on stdout: {out:?}");
    assert!(out.stderr.contains("wrote the report to"), "{out:?}");
    std::fs::read_to_string(&out_path).unwrap()
}

/// The text of `<section id="ID">` … `</section>`.
pub fn section<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!("<section id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no section {id}"));
    let end = start + page[start..].find("</section>").unwrap();
    &page[start..end]
}

/// Rows whose model, custom_id and batch are markup that would run or load if unescaped.
pub fn hostile() -> Vec<Row> {
    let mut rows = mixed();
    rows.push(row(
        "batch_<b>bold</b>",
        "<script>document.title='pwned'</script>",
        "zai-org/GLM-5.3",
        Some("flex"),
        T0,
        [90_000_000, 0, 9_000_000, 0],
    ));
    rows.push(row(
        "batch_a",
        "x\"><img src=x onerror=alert(1)>",
        "zai-org/GLM-5.3",
        Some("flex"),
        T0,
        [80_000_000, 0, 8_000_000, 0],
    ));
    rows.push(row(
        "batch_a",
        "c3",
        "<script>alert('model')</script>",
        Some("<i>flex</i>"),
        T0,
        [1_000, 0, 1_000, 0],
    ));
    rows
}

fn hostile_export(dir: &Path) -> PathBuf {
    export(dir, "hostile.sqlite", &hostile())
}

#[tokio::test]
async fn the_page_is_self_contained_with_every_chart_and_the_exports_figures() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "mixed.sqlite", &mixed());
    let page = html_report(&db, dir.path()).await;
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    let lower = page.to_ascii_lowercase();
    for banned in [
        "<script", "<link", "<iframe", "@import", "url(", "src=", "href=",
    ] {
        assert!(!lower.contains(banned), "the page holds {banned}");
    }
    assert!(
        page.contains("default-src 'none'"),
        "a CSP forbids every load"
    );
    assert!(page.contains("prefers-color-scheme:dark") && page.contains("@media print"));
    for id in CHARTS {
        assert!(section(&page, id).contains("<svg"), "no chart in {id}");
    }
    // The export's models, windows, batches and requests are in their charts.
    let over_time = section(&page, "spend-over-time");
    for m in [
        "zai-org/GLM-5.3",
        "moonshotai/Kimi-K3",
        "Qwen/Qwen3.6-35B-A3B",
    ] {
        assert!(over_time.contains(m), "{m} not in the legend");
        assert!(
            section(&page, "cache").contains(m),
            "{m} not in the cache chart"
        );
    }
    assert!(over_time.contains("2026-09-21") && over_time.contains("2026-09-22"));
    let windows = section(&page, "windows");
    assert!(
        windows.contains(">flex<") && windows.contains("saved"),
        "{windows}"
    );
    let labels = section(&page, "labels");
    assert!(
        labels.contains("batch_a") && labels.contains("batch_b"),
        "{labels}"
    );
    // 2 of 7 fetched requests are unpriced: acme/unknown-1 and the failed row without usage.
    assert!(section(&page, "shares").contains("2 of 7 (28.6%)"));
    assert!(section(&page, "notes").contains("unpriced"));
}

#[tokio::test]
async fn the_most_expensive_requests_are_the_dearest_of_the_per_row_costs_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "mixed.sqlite", &mixed());
    let csv_path = dir.path().join("rows.csv");
    let rows = run(&[
        "cost",
        db.to_str().unwrap(),
        "--rows",
        "-o",
        csv_path.to_str().unwrap(),
    ])
    .await;
    assert_eq!(rows.code, 0, "{rows:?}");
    let mut priced: Vec<(f64, String)> = csv::Reader::from_path(&csv_path)
        .unwrap()
        .records()
        .map(|r| r.unwrap())
        .filter(|r| !r[12].is_empty())
        .map(|r| (r[12].parse().unwrap(), r[1].to_owned()))
        .collect();
    priced.sort_by(|a, b| b.0.total_cmp(&a.0));
    let page = html_report(&db, dir.path()).await;
    let table = section(&page, "top");
    let table = &table[table.find("<tbody>").unwrap()..];
    let listed: Vec<&str> = table
        .split("<tr><td>")
        .skip(1)
        .map(|r| &r[..r.find("</td>").unwrap()])
        .collect();
    let want: Vec<&str> = priced.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(listed, want, "{table}");
}

#[tokio::test]
async fn names_from_the_export_are_escaped_not_markup() {
    let dir = tempfile::tempdir().unwrap();
    let db = hostile_export(dir.path());
    let page = html_report(&db, dir.path()).await;
    for raw in ["<script", "<img", "<b>bold", "<i>flex"] {
        assert!(!page.contains(raw), "{raw} is in the page unescaped");
    }
    let top = section(&page, "top");
    assert!(top.contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"));
    assert!(top.contains("x&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    assert!(section(&page, "labels").contains("batch_&lt;b&gt;bold&lt;/b&gt;"));
    let shares = section(&page, "shares");
    assert!(
        shares.contains("3 of 10"),
        "the hostile model is unpriced: {shares}"
    );
    let notes = section(&page, "notes");
    assert!(
        notes.contains("&lt;script&gt;alert(&#39;model&#39;)&lt;/script&gt;"),
        "{notes}"
    );
    assert!(notes.contains("&lt;i&gt;flex&lt;/i&gt;"), "{notes}");
}

#[tokio::test]
async fn the_page_goes_to_stdout_without_o_and_o_needs_rows_or_html() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "mixed.sqlite", &mixed());
    let out = run(&["cost", db.to_str().unwrap(), "--format", "html"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with("<!DOCTYPE html>") && out.stdout.ends_with("</html>\n"));
    let file = dir.path().join("r.txt");
    let bad = run(&["cost", db.to_str().unwrap(), "-o", file.to_str().unwrap()]).await;
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(
        bad.stderr
            .contains("-o FILE goes with --rows or --format html"),
        "{bad:?}"
    );
    assert!(!file.exists());
}
