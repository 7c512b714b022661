//! Tests of the checkpoint parts: one row per id, the upsert rule, compaction, recovery.

use super::*;
use crate::row::FetchState;
use arrow_array::cast::AsArray;
use arrow_array::RecordBatch;

fn row(id: &str, state: FetchState, input: i64) -> Row {
    let mut r = Row::bare("b", id, state);
    r.input_tokens = Some(input);
    r
}

/// (custom_id, fetch_state, input_tokens) of every row the merge of all parts yields.
fn merged(parts: &mut Parts) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    let inp = schema::index_of("input_tokens");
    merge::merge(parts.all_cursors().unwrap(), |b| {
        for i in 0..b.num_rows() {
            out.push((
                b.column(1).as_string::<i32>().value(i).to_owned(),
                b.column(2).as_string::<i32>().value(i).to_owned(),
                b.column(inp)
                    .as_primitive::<arrow_array::types::Int64Type>()
                    .value(i),
            ));
        }
        Ok(())
    })
    .unwrap();
    out
}

#[test]
fn a_write_keeps_one_row_per_id_and_never_lets_a_failure_replace_a_fetched_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut parts = Parts::open(&dir.path().join("p")).unwrap();
    parts
        .add(&[
            row("x", FetchState::Fetched, 1),
            row("y", FetchState::Pending, 1),
            row("x", FetchState::Error, 2),
            row("y", FetchState::Pending, 2),
        ])
        .unwrap();
    parts.add(&[row("y", FetchState::Fetched, 3)]).unwrap();
    parts.add(&[row("y", FetchState::NotFound, 4)]).unwrap();
    let got = merged(&mut parts);
    assert_eq!(
        got,
        [
            ("x".into(), "fetched".into(), 1),
            ("y".into(), "fetched".into(), 3)
        ]
    );
}

#[test]
fn many_writes_are_compacted_and_merge_to_the_newest_row_per_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut parts = Parts::open(&dir.path().join("p")).unwrap();
    for w in 0..40i64 {
        let rows: Vec<Row> = (0..5)
            .map(|k| {
                row(
                    &format!("id{:02}", (w * 3 + k) % 50),
                    FetchState::Pending,
                    w,
                )
            })
            .collect();
        parts.add(&rows).unwrap();
    }
    assert!(parts.parts.len() < 16, "{} parts", parts.parts.len());
    assert!(parts.parts.iter().any(|p| p.level == 1));
    let got = merged(&mut parts);
    let mut want = std::collections::BTreeMap::new();
    for w in 0..40i64 {
        for k in 0..5 {
            want.insert(format!("id{:02}", (w * 3 + k) % 50), w);
        }
    }
    let want: Vec<(String, String, i64)> = want
        .into_iter()
        .map(|(id, w)| (id, "pending".to_owned(), w))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn reopening_after_a_kill_drops_temporary_files_and_inputs_of_a_finished_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p");
    let mut parts = Parts::open(&p).unwrap();
    for i in 0..3 {
        parts
            .add(&[row(&format!("id{i}"), FetchState::Fetched, i)])
            .unwrap();
    }
    // A compaction of writes 1..=2 that was renamed into place, then killed.
    let merged_name = Part {
        level: 1,
        lo: 1,
        hi: 2,
    }
    .file_name();
    let cursors = parts.cursors(&parts.parts[..2]).unwrap();
    parts
        .write_part(
            &Part {
                level: 1,
                lo: 1,
                hi: 2,
            },
            |w| merge::merge(cursors, |b| w.write(&b).map_err(Into::into)).map(drop),
        )
        .unwrap();
    std::fs::write(p.join("00-000000000004-000000000004.tmp"), b"half").unwrap();
    drop(parts);
    let mut parts = Parts::open(&p).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&p)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            Part {
                level: 0,
                lo: 3,
                hi: 3
            }
            .file_name(),
            merged_name
        ]
    );
    assert_eq!(parts.next, 4);
    assert_eq!(merged(&mut parts).len(), 3);
}

#[test]
fn a_part_is_written_in_batches_bounded_in_rows_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut parts = Parts::open(&dir.path().join("p")).unwrap();
    // OUT_ROWS + 36 small rows, then 10 rows each holding half the byte bound in text.
    let mut rows: Vec<Row> = (0..merge::OUT_ROWS as i64 + 36)
        .map(|i| row(&format!("a{i:03}"), FetchState::Fetched, i))
        .collect();
    rows.extend((0..10).map(|i| {
        let mut r = row(&format!("b{i:03}"), FetchState::Fetched, i);
        r.output_text = Some("x".repeat(merge::OUT_BYTES / 2));
        r
    }));
    parts.add(&rows).unwrap();
    let batches: Vec<RecordBatch> = parts
        .scan((0..schema::schema().fields().len()).collect())
        .unwrap()
        .into_iter()
        .flatten()
        .map(Result::unwrap)
        .collect();
    let sizes: Vec<usize> = batches.iter().map(RecordBatch::num_rows).collect();
    assert_eq!(sizes.iter().sum::<usize>(), merge::OUT_ROWS + 46);
    // OUT_ROWS rows close the first batch; after that every two large rows reach the bound.
    assert_eq!(sizes, [merge::OUT_ROWS, 38, 2, 2, 2, 2]);
}

#[test]
fn reducing_leaves_at_most_the_given_number_of_parts_and_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p");
    let mut parts = Parts::open(&p).unwrap();
    // 15 × 16 + 15 writes: 15 parts of level 1 and 15 of level 0 are left.
    let writes = (FAN_IN * (FAN_IN - 1) + FAN_IN - 1) as i64;
    let mut want = std::collections::BTreeMap::new();
    for w in 0..writes {
        let id = format!("id{:03}", (w * 7) % 100);
        parts.add(&[row(&id, FetchState::Pending, w)]).unwrap();
        want.insert(id, w);
    }
    assert_eq!(parts.parts.len(), 2 * (FAN_IN - 1), "{:?}", parts.parts);
    let want: Vec<(String, String, i64)> = want
        .into_iter()
        .map(|(id, w)| (id, "pending".to_owned(), w))
        .collect();
    for max in [FAN_IN, 3] {
        parts.reduce(max, &Cancel::default()).unwrap();
        assert!(parts.parts.len() <= max, "{:?}", parts.parts);
        let mut names: Vec<String> = std::fs::read_dir(&p)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let listed: Vec<String> = parts.parts.iter().map(Part::file_name).collect();
        assert_eq!(names, listed);
        assert_eq!(merged(&mut parts), want, "after reducing to {max}");
        // A reopened checkpoint sees the same parts.
        assert_eq!(Parts::open(&p).unwrap().parts, parts.parts);
    }
}
