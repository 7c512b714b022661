//! The SQL surface of an export: the price table it carries, the `result_costs` view (which
//! must agree with `cost`), repricing by UPDATE, and every `examples/queries/*.sql`.

use std::path::Path;

use serde_json::{json, Value};

use sail_export::prices::PriceTable;

use crate::cost::{cost_json, export, group, mixed};
use crate::harness::*;

/// Every row of `sql` as a JSON array, in column order.
fn rows(db: &Path, sql: &str) -> Vec<Value> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{e}: {sql}"));
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        (0..n)
            .map(|i| {
                Ok(match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => Value::Null,
                    rusqlite::types::ValueRef::Integer(x) => json!(x),
                    rusqlite::types::ValueRef::Real(x) => json!(x),
                    rusqlite::types::ValueRef::Text(t) => json!(String::from_utf8_lossy(t)),
                    rusqlite::types::ValueRef::Blob(_) => json!("<blob>"),
                })
            })
            .collect::<rusqlite::Result<Vec<Value>>>()
            .map(Value::Array)
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-12)
}

#[test]
fn every_export_carries_the_bundled_price_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "x.sqlite", &mixed());
    let info = query(
        &db,
        "SELECT version, source, default_window FROM price_info",
    );
    assert_eq!(info[0]["version"], "2026-10-07");
    assert_eq!(info[0]["source"], "https://docs.sailresearch.com/pricing");
    assert_eq!(info[0]["default_window"], "standard");
    let n = query(
        &db,
        "SELECT COUNT(*) AS n, COUNT(DISTINCT model) AS m FROM prices",
    );
    assert_eq!(
        n[0]["n"], 39,
        "the 2026-10-07 page (10 models × 3 windows + gpt-oss-120b asap + Qwen flex), then \
         from the 2026-08-01 page the 3 prices that differ and GLM-5.2 (3) and Nemotron (1)"
    );
    assert_eq!(n[0]["m"], 14);
    let kimi = query(&db, "SELECT input, cached_input, output FROM prices WHERE model = 'moonshotai/Kimi-K3' AND completion_window = 'asap'");
    assert_eq!(
        kimi[0],
        json!({"input": 2.5, "cached_input": 0.25, "output": 12.5})
            .as_object()
            .unwrap()
            .clone()
    );
    let alias = query(
        &db,
        "SELECT completion_window FROM window_aliases WHERE alias = 'balanced'",
    );
    assert_eq!(alias[0]["completion_window"], "standard");
}

#[tokio::test]
async fn the_view_and_the_cost_command_agree() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "x.sqlite", &mixed());
    let report = cost_json(&db, &[]).await;
    assert_view_matches(&db, &report);
    let total = query(&db, "SELECT SUM(cost_usd) AS c FROM result_costs");
    assert!(close(&total[0]["c"], 4.39222), "{total:?}");
}

/// Compares `SELECT ... FROM result_costs GROUP BY model, window_used` with `cost` JSON.
fn assert_view_matches(db: &Path, report: &Value) {
    let view = query(db, "SELECT model, window_used, COUNT(*) AS requests, SUM(cost_usd) AS cost, \
        SUM(asap_cost_usd) AS asap, SUM(cost_usd IS NULL) AS unpriced, SUM(window_assumed) AS assumed \
        FROM result_costs GROUP BY model, window_used");
    assert_eq!(view.len(), report["rows"].as_array().unwrap().len());
    for v in &view {
        let g = group(
            report,
            &[
                ("model", v["model"].as_str().unwrap()),
                ("completion_window", v["window_used"].as_str().unwrap()),
            ],
        );
        assert_eq!(g["requests"], v["requests"], "{v:?}");
        assert_eq!(g["unpriced_requests"], v["unpriced"], "{v:?}");
        assert_eq!(g["assumed_window_requests"], v["assumed"], "{v:?}");
        for (col, key) in [("cost", "cost_usd"), ("asap", "asap_cost_usd")] {
            match g[key].as_f64() {
                Some(c) => assert!(close(&v[col], c), "{key}: {v:?} vs {c}"),
                None => assert_eq!(v[col], Value::Null, "{key}: {v:?}"),
            }
        }
    }
}

#[tokio::test]
async fn the_view_and_cost_agree_on_dated_and_wildcard_prices_and_another_default() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "x.sqlite", &mixed());
    let text = r#"
version = "agree"
default_window = "flex"
[[price]]
model = "zai-org/GLM-5.3"
window = "flex"
input = 0.40
cached_input = 0.08
output = 1.80
[[price]]
model = "zai-org/GLM-5.3"
window = "flex"
input = 0.5
cached_input = 0.1
output = 2
effective_from = "2026-09-22"
[[price]]
model = "acme/unknown-1"
window = "*"
input = 3
cached_input = 1
output = 5
[[price]]
model = "acme/unknown-1"
window = "asap"
input = 4
cached_input = 1
output = 6
"#;
    let file = dir.path().join("agree.toml");
    std::fs::write(&file, text).unwrap();
    let table = PriceTable::bundled()
        .merge(PriceTable::parse(text, "agree.toml").unwrap())
        .unwrap();
    let mut conn = rusqlite::Connection::open(&db).unwrap();
    let tx = conn.transaction().unwrap();
    sail_export::sink::sqlite::prices::write(&tx, &table).unwrap();
    tx.commit().unwrap();
    drop(conn);
    let report = cost_json(&db, &["--prices", file.to_str().unwrap()]).await;
    // a1 $0.632 + a2 (no window, now flex) 2,000,000·0.40 + 1,000,000·1.80 = $2.60.
    assert_eq!(
        group(
            &report,
            &[("model", "zai-org/GLM-5.3"), ("completion_window", "flex")]
        )["cost_usd"],
        3.232
    );
    assert_eq!(
        group(&report, &[("model", "acme/unknown-1")])["cost_usd"],
        0.008
    );
    // b2 (24h → flex) was created on 2026-09-22: 100·0.5 + 100·2 = 250 → $0.00025.
    let b2 = &[("model", "zai-org/GLM-5.3"), ("completion_window", "24h")];
    assert_eq!(group(&report, b2)["cost_usd"], 0.00025);
    assert_view_matches(&db, &report);
}

#[test]
fn repricing_is_an_update_of_the_prices_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "x.sqlite", &mixed());
    let a1 = "SELECT cost_usd FROM result_costs WHERE custom_id = 'a1'";
    assert!(close(&query(&db, a1)[0]["cost_usd"], 0.632));
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE prices SET input = 1.0 WHERE model = 'zai-org/GLM-5.3' AND completion_window = 'flex'", []).unwrap();
    conn.execute("INSERT INTO prices (model, completion_window, input, cached_input, output, version) VALUES ('acme/unknown-1', '*', 1, 1, 1, 'mine')", []).unwrap();
    drop(conn);
    // 600,000·1.00 + 400,000·0.08 + 200,000·1.80 = 992,000 → $0.992.
    assert!(close(&query(&db, a1)[0]["cost_usd"], 0.992));
    // 1,000 + 1,000 tokens at $1 / 1M through the '*' window.
    assert!(close(
        &query(
            &db,
            "SELECT cost_usd FROM result_costs WHERE custom_id = 'a4'"
        )[0]["cost_usd"],
        0.002
    ));
    // Reopening for another fetch does not overwrite the edited prices.
    drop(sail_export::sink::sqlite::SqliteSink::open(&db).unwrap());
    assert!(close(&query(&db, a1)[0]["cost_usd"], 0.992));
}

/// What each example query must return on `mixed()`, hand-computed.
fn expected(name: &str) -> Vec<Value> {
    let glm = "zai-org/GLM-5.3";
    match name {
        "cost_by_model_and_window.sql" => vec![
            json!([glm, "standard", 1, 3.5, 0, 1]),
            json!([glm, "flex", 2, 0.632, 1, 0]),
            json!(["moonshotai/Kimi-K3", "balanced", 1, 0.21, 0, 0]),
            json!(["Qwen/Qwen3.6-35B-A3B", "flex", 1, 0.05, 0, 0]),
            json!([glm, "24h", 1, 0.0002, 0, 0]),
            json!(["acme/unknown-1", "flex", 1, null, 1, 0]),
        ],
        "daily_spend.sql" => vec![
            json!(["2026-09-21", 4, 4.342, 1]),
            json!(["2026-09-22", 3, 0.0502, 1]),
        ],
        "most_expensive_requests.sql" => vec![
            json!(["batch_a", "a2", glm, "standard", 2_000_000, 0, 1_000_000, 0, 3.5]),
            json!(["batch_a", "a1", glm, "flex", 1_000_000, 400_000, 200_000, 150_000, 0.632]),
            json!([
                "batch_a",
                "a3",
                "moonshotai/Kimi-K3",
                "balanced",
                100_000,
                50_000,
                10_000,
                10_000,
                0.21
            ]),
            json!([
                "batch_b",
                "b1",
                "Qwen/Qwen3.6-35B-A3B",
                "flex",
                1_000_000,
                0,
                0,
                0,
                0.05
            ]),
            json!(["batch_b", "b2", glm, "24h", 100, 0, 100, 0, 0.0002]),
        ],
        "cache_hit_ratio_by_model.sql" => vec![
            json!(["Qwen/Qwen3.6-35B-A3B", 1_000_000, 0, 0.0]),
            json!(["acme/unknown-1", 1_000, 0, 0.0]),
            json!(["moonshotai/Kimi-K3", 100_000, 50_000, 0.5]),
            json!([glm, 3_000_100, 400_000, 400_000.0 / 3_000_100.0]),
        ],
        "failures_by_error_code.sql" => vec![
            json!(["not_found", null, "http_404", 1, "b5"]),
            json!(["error", null, "http_500", 1, "b3"]),
            json!(["fetched", "failed", "server_error", 1, "b4"]),
        ],
        "savings_vs_asap.sql" => vec![
            json!([glm, "standard", 1, 3.5, 5.04, 1.54, 1.54 / 5.04]),
            json!([glm, "flex", 1, 0.632, 1.276, 0.644, 0.644 / 1.276]),
            json!([
                "moonshotai/Kimi-K3",
                "balanced",
                1,
                0.21,
                0.2625,
                0.0525,
                0.0525 / 0.2625
            ]),
            json!([glm, "24h", 1, 0.0002, 0.0004, 0.0002, 0.000186 / 0.000406]),
        ],
        other => panic!("examples/queries/{other} has no expected result here: add one"),
    }
}

fn same(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Number(_), Value::Number(_)) => {
            (got.as_f64().unwrap() - want.as_f64().unwrap()).abs()
                <= 1e-12 * want.as_f64().unwrap().abs().max(1.0)
        }
        _ => got == want,
    }
}

#[test]
fn every_example_query_returns_the_hand_computed_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "x.sqlite", &mixed());
    let queries = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/queries");
    let mut names: Vec<String> = std::fs::read_dir(&queries)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 6, "{names:?}");
    for name in names {
        let sql = std::fs::read_to_string(queries.join(&name)).unwrap();
        let got = rows(&db, &sql);
        let want = expected(&name);
        assert_eq!(got.len(), want.len(), "{name}: {got:?}");
        for (g, w) in got.iter().zip(&want) {
            let ok = g
                .as_array()
                .unwrap()
                .iter()
                .zip(w.as_array().unwrap())
                .all(|(a, b)| same(a, b));
            assert!(
                ok && g.as_array().unwrap().len() == w.as_array().unwrap().len(),
                "{name}: got {g} want {w}"
            );
        }
    }
}
