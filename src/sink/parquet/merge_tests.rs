//! Tests of the merge: the upsert rule, runs as slices, the byte bound, unsorted sources.

use super::*;
use crate::row::{FetchState, Row};

#[test]
fn only_a_fetched_row_replaces_a_fetched_row() {
    for new in FetchState::ALL {
        for old in FetchState::ALL {
            let want = new == FetchState::Fetched || old != FetchState::Fetched;
            assert_eq!(
                replaces(new.as_str(), old.as_str()),
                want,
                "{new:?} over {old:?}"
            );
        }
    }
}

/// A cursor over `rows` (already sorted), in batches of `per` rows.
fn source(name: &str, rows: &[Row], per: usize) -> Option<Cursor> {
    let batches: Vec<anyhow::Result<RecordBatch>> = rows
        .chunks(per)
        .map(|c| Ok(schema::to_batch(c, &(0..c.len()).collect::<Vec<_>>())))
        .collect();
    Cursor::open(name.into(), Box::new(batches.into_iter())).unwrap()
}

/// (custom_id, fetch_state, model) of every merged row, in order.
fn merged(sources: Vec<Cursor>) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    merge(sources, |b| {
        assert!(b.num_rows() <= OUT_ROWS, "{} rows", b.num_rows());
        let col = |n: &str| b.column(schema::index_of(n)).as_string::<i32>().clone();
        let (cid, st, model) = (col("custom_id"), col("fetch_state"), col("model"));
        for i in 0..b.num_rows() {
            let m = model.value(i).to_owned();
            out.push((cid.value(i).to_owned(), st.value(i).to_owned(), m));
        }
        Ok(())
    })
    .unwrap();
    out
}

#[test]
fn runs_and_interleaved_rows_merge_like_the_upsert_rule() {
    // Sources whose keys come in runs of every length, from whole batches to single
    // rows, with keys that several sources share in every pair of states.
    let mut seed = 7u64;
    let mut rand = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut want: std::collections::BTreeMap<String, (String, String)> = Default::default();
    let mut sources = Vec::new();
    for s in 0..6 {
        let mut keys = std::collections::BTreeSet::new();
        let mut k = rand(50);
        while keys.len() < 300 {
            // Mostly consecutive keys (runs), sometimes a jump.
            k += if rand(10) == 0 { 1 + rand(400) } else { 1 };
            keys.insert(k % 2000);
        }
        let rows: Vec<Row> = keys
            .iter()
            .map(|k| {
                let state = FetchState::ALL[rand(FetchState::ALL.len() as u64) as usize];
                let mut r = Row::bare("b", &format!("id-{k:05}"), state);
                r.model = Some(format!("source {s}"));
                r
            })
            .collect();
        for r in &rows {
            let new = (r.fetch_state.as_str().to_owned(), r.model.clone().unwrap());
            match want.get(&r.custom_id) {
                Some(old) if !replaces(&new.0, &old.0) => {}
                _ => {
                    want.insert(r.custom_id.clone(), new);
                }
            }
        }
        sources.push(source("s", &rows, [1, 5, 64, 64, 13, 300][s]).unwrap());
    }
    let want: Vec<(String, String, String)> =
        want.into_iter().map(|(k, (st, m))| (k, st, m)).collect();
    assert_eq!(merged(sources), want);
}

#[test]
fn disjoint_sources_come_out_as_slices_in_order() {
    let rows: Vec<Row> = (0..200)
        .map(|i| Row::bare("b", &format!("id-{i:03}"), FetchState::Fetched))
        .collect();
    let (a, b) = rows.split_at(120);
    let sources = vec![source("b", b, 64).unwrap(), source("a", a, 64).unwrap()];
    let (mut ids, mut sizes) = (Vec::new(), Vec::new());
    merge(sources, |batch| {
        let cid = batch.column(1).as_string::<i32>();
        ids.extend((0..batch.num_rows()).map(|i| cid.value(i).to_owned()));
        sizes.push(batch.num_rows());
        Ok(())
    })
    .unwrap();
    let expect: Vec<String> = rows.iter().map(|r| r.custom_id.clone()).collect();
    assert_eq!(ids, expect);
    // Each output batch is a whole source batch: 64 + 56 rows of `a`, 64 + 16 of `b`.
    assert_eq!(sizes, [64, 56, 64, 16]);
}

#[test]
fn merged_batches_stop_at_the_row_that_reaches_the_byte_bound() {
    // Source a holds runs of 6 keys (too short to slice), b one key between them; every
    // row carries a quarter of the byte bound in text, so 4 rows reach it.
    let big = |k: usize| {
        let mut r = Row::bare("b", &format!("id-{k:03}"), FetchState::Fetched);
        r.output_text = Some("x".repeat(OUT_BYTES / 4));
        r
    };
    let a: Vec<Row> = (0..70).filter(|k| k % 7 != 6).map(big).collect();
    let b: Vec<Row> = (0..70).filter(|k| k % 7 == 6).map(big).collect();
    let mut sizes = Vec::new();
    let n = merge(
        vec![source("a", &a, 64).unwrap(), source("b", &b, 64).unwrap()],
        |batch| {
            sizes.push(batch.num_rows());
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(n, 70);
    assert!(sizes.iter().all(|&s| s <= 4), "{sizes:?}");
}

#[test]
fn a_row_out_of_order_inside_a_run_is_refused() {
    let mut rows: Vec<Row> = (0..40)
        .map(|i| Row::bare("b", &format!("id-{i:03}"), FetchState::Fetched))
        .collect();
    rows.swap(30, 31);
    let c = source("x.parquet", &rows, 64).unwrap();
    let err = merge(vec![c], |_| Ok(())).unwrap_err();
    assert!(
        format!("{err}")
            .contains("'x.parquet' is not sorted by (batch_id, custom_id) at ('b', 'id-030')"),
        "{err}"
    );
}

#[test]
fn an_unsorted_source_is_refused_as_not_ours() {
    let rows = [
        Row::bare("b", "z", FetchState::Fetched),
        Row::bare("b", "a", FetchState::Fetched),
    ];
    let batch = schema::to_batch(&rows, &[0, 1]);
    let c = Cursor::open("x.parquet".into(), Box::new(std::iter::once(Ok(batch))))
        .unwrap()
        .unwrap();
    let err = merge(vec![c], |_| Ok(())).unwrap_err();
    assert!(err.is::<crate::error::UsageError>(), "{err:#}");
    assert!(
        format!("{err}").contains("'x.parquet' is not sorted"),
        "{err}"
    );
}
