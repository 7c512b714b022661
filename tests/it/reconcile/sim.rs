//! `reconcile` against the simulator, whose usage API bills exactly the items it serves (at
//! the bundled prices unless told otherwise): an export of all of it agrees to the cent, a
//! bill at another price is found and the price named, and tokens billed beyond the export
//! show as partial coverage.

use std::path::{Path, PathBuf};

use sail_export::prices::PriceTable;
use sail_export::sim::{Billing, Sim, SimConfig, SimHandle};
use serde_json::Value;

use super::{lines, reconcile, report};
use crate::harness::*;

/// Prices for the simulator's rows the bundled table leaves unpriced (no window given, and
/// the model has no `standard` price): the export is priced with them (`--prices`) and the
/// simulator bills with them, so every row is priced on both sides.
const GAPS: &str = r#"version = "gaps"
[[price]]
model = "Qwen/Qwen3.6-35B-A3B"
window = "standard"
input = 0.10
cached_input = 0.02
output = 0.40
[[price]]
model = "openai/gpt-oss-120b"
window = "standard"
input = 0.10
cached_input = 0.05
output = 0.50
"#;

/// The bundled table with [`GAPS`] filled, and `over` (a price file) merged on top.
fn billed_at(over: Option<&str>) -> PriceTable {
    let gaps = PriceTable::parse(GAPS, "gaps.toml").unwrap();
    let table = PriceTable::bundled().merge(gaps).unwrap();
    match over {
        Some(text) => table
            .merge(PriceTable::parse(text, "over.toml").unwrap())
            .unwrap(),
        None => table,
    }
}

/// `--prices FILE` with [`GAPS`], written into `dir`.
fn gaps_file(dir: &Path) -> String {
    let p = dir.join("gaps.toml");
    std::fs::write(&p, GAPS).unwrap();
    p.to_str().unwrap().to_owned()
}

/// One batch (so every billed item is in it) of `items` items, billed as `billing` says.
async fn start(items: u64, billing: Billing) -> SimHandle {
    let cfg = SimConfig {
        api_key: KEY.to_owned(),
        batches: 1,
        billing,
        ..SimConfig::new(items)
    };
    Sim::start(cfg).await.unwrap()
}

/// Exports the simulator's batch to `dir/name` (SQLite or Parquet by its extension).
async fn export(sim: &SimHandle, dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    let args = [
        "fetch",
        sim.batch_id(),
        "-o",
        out.to_str().unwrap(),
        "--base-url",
        &sim.base_url(),
    ];
    let ran = run(&args).await;
    // Running, queued and expired items make a fetch exit 3; none of them is billed.
    assert!(ran.code == 0 || ran.code == 3, "{ran:?}");
    out
}

fn verdicts(report: &Value) -> Vec<String> {
    lines(report)
        .iter()
        .map(|l| format!("{} {}", l["model"], l["verdict"]))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_of_everything_billed_agrees_to_the_cent_and_exits_0() {
    let billing = Billing {
        prices: Some(billed_at(None)),
        ..Billing::default()
    };
    let sim = start(1000, billing).await;
    let dir = tempfile::tempdir().unwrap();
    let gaps = gaps_file(dir.path());
    let db = export(&sim, dir.path(), "all.sqlite").await;
    let args = ["--json", "--range", "7d", "--prices", &gaps];
    let out = reconcile(&sim.base_url(), &[&db], &args).await;
    assert_eq!(out.code, 0, "{out:?}");
    let r = report(&out);
    let ls = lines(&r);
    assert!(ls.len() >= 5, "several models are billed: {ls:?}");
    for l in &ls {
        assert_eq!(l["verdict"], "agrees", "{l}");
        assert_eq!(l["coverage"], 1.0, "{l}");
        assert_eq!(l["exported_tokens"], l["billed_tokens"], "{l}");
        let (billed, computed) = (
            l["billed_cents"].as_f64().unwrap(),
            l["computed_cents"].as_f64().unwrap(),
        );
        assert!((billed - computed).abs() < 1.0, "{l}");
        assert!(billed > 0.0, "{l}");
    }
    assert_eq!(r["disagreements"], 0);
    // The same batch as Parquet, read in place, and the text report.
    let parquet = export(&sim, dir.path(), "all.parquet").await;
    let text = reconcile(
        &sim.base_url(),
        &[&parquet],
        &["--range", "7d", "--prices", &gaps],
    )
    .await;
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout.contains("agrees with the bill"),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains("wrong_price"), "{}", text.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bill_at_another_price_is_found_and_the_price_that_explains_it_named() {
    // Sail billed GLM-5.3 at 1.5 times the bundled balanced and flex prices.
    let over = r#"version = "billed"
[[price]]
model = "zai-org/GLM-5.3"
window = "balanced"
input = 0.75
cached_input = 0.18
output = 3.75
[[price]]
model = "zai-org/GLM-5.3"
window = "flex"
input = 0.60
cached_input = 0.12
output = 2.70
"#;
    let billing = Billing {
        prices: Some(billed_at(Some(over))),
        ..Billing::default()
    };
    // Enough GLM-5.3 tokens (about $5) that whole cents pin the factor within 1 %.
    let sim = start(6000, billing).await;
    let dir = tempfile::tempdir().unwrap();
    let gaps = gaps_file(dir.path());
    let db = export(&sim, dir.path(), "all.sqlite").await;
    let args = ["--json", "--range", "7d", "--prices", &gaps];
    let out = reconcile(&sim.base_url(), &[&db], &args).await;
    assert_eq!(out.code, 3, "{out:?}");
    let r = report(&out);
    let mut wrong = 0;
    for l in lines(&r) {
        if l["model"] != "zai-org/GLM-5.3" {
            assert_eq!(l["verdict"], "agrees", "{l}");
            continue;
        }
        wrong += 1;
        assert_eq!(l["verdict"], "wrong_price", "{l}");
        assert_eq!(l["coverage"], 1.0, "{l}");
        let x = &l["explanation"];
        let factor = x["factor"].as_f64().unwrap();
        assert!((factor - 1.5).abs() < 0.01, "{x}");
        let flex = x["prices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["window"] == "flex")
            .expect("flex rows priced");
        let named =
            [&flex["input"], &flex["cached_input"], &flex["output"]].map(|v| v.as_f64().unwrap());
        for (got, billed) in named.iter().zip([0.60, 0.12, 2.70]) {
            assert!((got - billed).abs() / billed < 0.01, "{flex}");
        }
    }
    assert!(wrong >= 1, "GLM-5.3 is billed: {:?}", verdicts(&r));
    assert_eq!(r["disagreements"], wrong);
    let text = reconcile(
        &sim.base_url(),
        &[&db],
        &["--range", "7d", "--prices", &gaps],
    )
    .await;
    assert_eq!(text.code, 3);
    assert!(
        text.stdout
            .contains("zai-org/GLM-5.3: the exports hold every billed token")
            && text
                .stdout
                .contains("the price table is wrong for this model and day")
            && text.stdout.contains("flex input "),
        "{}",
        text.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_billed_beyond_the_export_show_as_partial_coverage() {
    let extra = 100_000;
    let billing = Billing {
        extra_input_tokens: extra,
        ..Billing::default()
    };
    let sim = start(300, billing).await;
    let dir = tempfile::tempdir().unwrap();
    let db = export(&sim, dir.path(), "all.sqlite").await;
    let out = reconcile(&sim.base_url(), &[&db], &["--json"]).await;
    assert_eq!(
        out.code, 0,
        "coverage is a finding, not a disagreement: {out:?}"
    );
    let ls = lines(&report(&out));
    assert!(!ls.is_empty());
    for l in &ls {
        assert_eq!(l["verdict"], "partial", "{l}");
        let (held, billed) = (
            l["exported_tokens"].as_i64().unwrap(),
            l["billed_tokens"].as_i64().unwrap(),
        );
        assert_eq!(billed, held + extra, "{l}");
        let coverage = l["coverage"].as_f64().unwrap();
        assert!(
            (coverage - held as f64 / billed as f64).abs() < 1e-12,
            "{l}"
        );
    }
    let text = reconcile(&sim.base_url(), &[&db], &[]).await;
    assert!(
        text.stdout.contains("of the billed tokens"),
        "{}",
        text.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_ends_with_a_reconcile_of_its_export() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.sqlite");
    let out = run(&["demo", "--requests", "300", "-o", db.to_str().unwrap()]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let table = out
        .stdout
        .split("exported tokens")
        .nth(1)
        .unwrap_or_else(|| panic!("{}", out.stdout));
    // The main batch's day is exported whole: its priced models agree with the bill.
    assert!(table.contains("agrees"), "{table}");
    assert!(table.contains("range 7d: the bill covers"), "{table}");
    // The two older batches are billed but not in the export.
    assert!(
        table.contains("have none of their tokens in the exports"),
        "{table}"
    );
}
