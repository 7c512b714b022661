//! `sail-export prices [--at DATE] [--json]`: the table in force on a day, each entry with
//! its source and the days it covers.

use serde_json::Value;

use super::*;

async fn prices_at(dir: &Path, date: &str) -> Value {
    let out = run_in(dir, &["prices", "--at", date, "--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    serde_json::from_str(&out.stdout).unwrap()
}

fn entry<'a>(t: &'a Value, model: &str, window: &str) -> Option<&'a Value> {
    t["prices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["model"] == model && e["window"] == window)
}

#[tokio::test]
async fn the_table_in_force_on_a_day_with_its_sources_and_spans() {
    let dir = tempfile::tempdir().unwrap();
    let aug = prices_at(dir.path(), "2026-08-15").await;
    assert_eq!(aug["at"], "2026-08-15");
    let glm = entry(&aug, "zai-org/GLM-5.3", "asap").unwrap();
    assert_eq!(
        (glm["input"].as_f64(), glm["output"].as_f64()),
        (Some(1.4), Some(4.4))
    );
    assert_eq!(glm["seen_first"], "2026-08-01");
    assert_eq!(glm["source"], "Sail pricing page, 2026-08 copy");
    assert_eq!(glm["in_force_until"], "2026-09-21");
    assert_eq!(glm["unknown_change"]["from"], "2026-08-02");
    assert_eq!(glm["unknown_change"]["next"]["input"], 0.98);
    assert!(entry(&aug, "zai-org/GLM-5.2-FP8", "standard").is_some());
    assert_eq!(aug["window_aliases"]["balanced"], "standard");

    let oct = prices_at(dir.path(), "2026-10-15").await;
    let glm = entry(&oct, "zai-org/GLM-5.3", "asap").unwrap();
    assert_eq!(glm["input"], 0.98);
    assert_eq!(glm["in_force_from"], "2026-09-21");
    assert_eq!(glm["in_force_until"], Value::Null);
    assert_eq!(glm["unknown_change"], Value::Null);
    assert_eq!(glm["seen_last"], "2026-10-07");

    let text = run_in(dir.path(), &["prices", "--at", "2026-08-15"]).await;
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout.contains("prices in force on 2026-08-15"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("zai-org/GLM-5.3 × 'asap': 1.4 / 0.26 / 4.4 was seen 2026-08-01"),
        "{}",
        text.stdout
    );
    let bad = run_in(dir.path(), &["prices", "--at", "August"]).await;
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(
        bad.stderr.contains("--at 'August' is not a date"),
        "{}",
        bad.stderr
    );
}
