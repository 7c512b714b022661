//! `cost --rows -o FILE`: one line per fetched result with its cost, written as Parquet or
//! CSV from a SQLite or a Parquet export, equal to the SQLite `result_costs` view to the
//! nano-dollar.

use std::collections::HashMap;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::Array;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::cost::{export, export_parquet, mixed};
use crate::harness::*;

type Costs = HashMap<(String, String), [Option<f64>; 3]>;

/// (batch_id, custom_id) → cost, asap cost, savings, from a Parquet file of `--rows`.
fn from_parquet(path: &Path) -> Costs {
    let file = std::fs::File::open(path).unwrap();
    let mut out = Costs::new();
    for batch in ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
    {
        let batch = batch.unwrap();
        let text = |n: &str| batch.column_by_name(n).unwrap().as_string::<i32>().clone();
        let money = |n: &str| {
            batch
                .column_by_name(n)
                .unwrap()
                .as_primitive::<Float64Type>()
                .clone()
        };
        let (b, c) = (text("batch_id"), text("custom_id"));
        let m = [
            money("cost_usd"),
            money("asap_cost_usd"),
            money("savings_usd"),
        ];
        for i in 0..batch.num_rows() {
            let v = std::array::from_fn(|k| m[k].is_valid(i).then(|| m[k].value(i)));
            out.insert((b.value(i).to_owned(), c.value(i).to_owned()), v);
        }
    }
    out
}

/// The same from a CSV file of `--rows` (exact decimals, read as f64).
fn from_csv(path: &Path) -> Costs {
    let mut r = csv::Reader::from_path(path).unwrap();
    let head = r.headers().unwrap().clone();
    let at = |n: &str| head.iter().position(|h| h == n).unwrap();
    let cols = [at("cost_usd"), at("asap_cost_usd"), at("savings_usd")];
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            let v = cols.map(|k| (!rec[k].is_empty()).then(|| rec[k].parse().unwrap()));
            (
                (
                    rec[at("batch_id")].to_owned(),
                    rec[at("custom_id")].to_owned(),
                ),
                v,
            )
        })
        .collect()
}

#[tokio::test]
async fn per_row_costs_equal_the_sqlite_view_to_the_nano_dollar() {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "x.sqlite", &mixed());
    let pq = export_parquet(dir.path(), "x.parquet", &mixed());
    let view: Costs = query(
        &db,
        "SELECT batch_id, custom_id, cost_usd, asap_cost_usd, savings_usd FROM result_costs",
    )
    .into_iter()
    .map(|r| {
        let s = |k: &str| r[k].as_str().unwrap().to_owned();
        let v = ["cost_usd", "asap_cost_usd", "savings_usd"].map(|k| r[k].as_f64());
        ((s("batch_id"), s("custom_id")), v)
    })
    .collect();
    assert!(view.values().any(|v| v[0].is_some()), "some row is priced");
    assert!(
        view.values().any(|v| v[0].is_none()),
        "some row is unpriced"
    );
    assert!(
        view.values().any(|v| v[1].is_some()),
        "some row has an asap price"
    );
    for (from, name) in [
        (&db, "a.parquet"),
        (&pq, "b.parquet"),
        (&db, "c.csv"),
        (&pq, "d.csv"),
    ] {
        let out = dir.path().join(name);
        let r = run(&[
            "cost",
            from.to_str().unwrap(),
            "--rows",
            "-o",
            out.to_str().unwrap(),
        ])
        .await;
        assert_eq!(r.code, 0, "{r:?}");
        let got = if name.ends_with(".csv") {
            from_csv(&out)
        } else {
            from_parquet(&out)
        };
        assert_eq!(got.len(), view.len(), "{name}: one line per fetched result");
        for (k, want) in &view {
            let have = got
                .get(k)
                .unwrap_or_else(|| panic!("{name}: no line for {k:?}"));
            for i in 0..3 {
                match (want[i], have[i]) {
                    (None, None) => {}
                    (Some(w), Some(h)) => {
                        assert!((w - h).abs() < 5e-10, "{name} {k:?}: view {w}, --rows {h}")
                    }
                    _ => panic!("{name} {k:?}: view {want:?}, --rows {have:?}"),
                }
            }
        }
    }
    let bad = run(&["cost", db.to_str().unwrap(), "--rows", "-o", "x.txt"]).await;
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(
        bad.stderr.contains("must end in .parquet or .csv"),
        "{}",
        bad.stderr
    );
}
