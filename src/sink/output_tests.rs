//! Tests of `Output`: every format goes through the same steps (prepare, lock, check,
//! open, and `completed` afterwards), a dataset included.

use super::*;
use crate::row::{FetchState, Row};
use crate::summary::Summary;

/// Writes `ids` fetched for batch `b` into `output` as a run would, and finishes it.
async fn export(output: &Output, b: &str, ids: &[&str]) {
    let place = output.prepare(b, None, Existing::ExportsOnly).unwrap();
    let _lock = place.lock(false).await.unwrap();
    place.check().unwrap();
    let mut sink = place.open(true).unwrap();
    sink.begin_run(&super::super::RunStart {
        batch_id: b.to_owned(),
        started_at: 0,
        options_json: "{}".to_owned(),
    })
    .unwrap();
    let rows: Vec<Row> = ids
        .iter()
        .map(|id| Row::bare(b, id, FetchState::Fetched))
        .collect();
    sink.write(&rows).unwrap();
    let n = ids.len() as u64;
    sink.finish(&Summary {
        batch_id: b.to_owned(),
        total: n,
        fetched: n,
        ..Summary::default()
    })
    .unwrap();
}

#[tokio::test]
async fn every_format_is_prepared_locked_opened_and_read_back_complete_alike() {
    let dir = tempfile::tempdir().unwrap();
    for (name, format) in [
        ("a.sqlite", Format::Sqlite),
        ("a.parquet", Format::Parquet),
        ("ds/", Format::Dataset),
    ] {
        let path = dir.path().join(name);
        let output = Output::resolve(Some(&path), None, "unused").unwrap();
        assert_eq!(output.format(), format, "{name}");
        export(&output, "b1", &["x", "y", "z"]).await;
        let done = output.completed().unwrap();
        assert_eq!(done.has("b1", Some(3), false).unwrap(), Some(0), "{name}");
        assert_eq!(done.has("b2", Some(3), false).unwrap(), None, "{name}");
        // A file counts its rows against the batch's total; a dataset has its marker.
        if format != Format::Dataset {
            assert_eq!(done.has("b1", Some(4), false).unwrap(), None, "{name}");
        }
    }
}

#[test]
fn without_o_the_output_is_named_after_the_batch_and_a_dataset_needs_o() {
    let o = Output::resolve(None, None, "batch_1").unwrap();
    assert_eq!(
        (o.path(), o.format()),
        (Path::new("batch_1.sqlite"), Format::Sqlite)
    );
    let o = Output::resolve(None, Some(Format::Parquet), "batch_1").unwrap();
    assert_eq!(o.path(), Path::new("batch_1.parquet"));
    assert!(Output::resolve(None, Some(Format::Dataset), "batch_1").is_err());
    assert!(Output::resolve(Some(Path::new("x.csv")), None, "b").is_err());
    let s3 = Output::resolve(Some(Path::new("s3://bucket/p")), None, "b").unwrap();
    assert_eq!(s3.format(), Format::Dataset);
}
