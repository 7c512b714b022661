//! The scan over Parquet exports read in place (`export::columns`): the same buckets as the
//! SQLite scan, from only the columns a report needs, with no copy and no scratch file.

use std::collections::BTreeSet;
use std::path::Path;

use super::scan::{Dims, Fold, Scan};
use crate::error::UsageError;
use crate::export::columns::{self, Chunk};
use crate::export::inputs::Inputs;
use crate::row::Cell;
use crate::time::{day, Span};

/// The columns read, in the order the scan uses them.
const TOKENS: [&str; 7] = [
    "input_tokens",
    "input_cached_tokens",
    "output_tokens",
    "output_reasoning_tokens",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
];

fn text<'a>(c: &Cell<'a>) -> Option<&'a [u8]> {
    match c {
        Cell::Text(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn int(c: Cell<'_>) -> Option<i64> {
    match c {
        Cell::Int(i) => Some(i),
        Cell::Real(f) => Some(f as i64),
        _ => None,
    }
}

/// The id of a cell (numbers as their text, as the SQLite scan interns them).
fn id(fold: &mut Fold, c: Cell<'_>) -> u32 {
    match c {
        Cell::Null => 0,
        Cell::Text(s) => fold.id(Some(s.as_bytes())),
        Cell::Int(i) => fold.id(Some(i.to_string().as_bytes())),
        Cell::Real(f) => fold.id(Some(f.to_string().as_bytes())),
    }
}

/// The columns the scan reads, by position: the pricing columns, then batch_id, status,
/// metadata_json and batch_label, each asked only when needed (otherwise fetch_state again,
/// which costs nothing more).
fn names(dims: &Dims, need_batch: bool) -> Vec<&'static str> {
    let mut names = vec!["fetch_state", "model", "completion_window", "created_at"];
    names.extend(TOKENS);
    names.push("dropped_fields");
    let or_state = |need: bool, name| if need { name } else { "fetch_state" };
    names.push(or_state(need_batch, "batch_id"));
    names.push(or_state(dims.by_status, "status"));
    names.push(or_state(!dims.meta.is_empty(), "metadata_json"));
    names.push(or_state(dims.labels, "batch_label"));
    names
}

/// Records a row's `batch_label` as its batch's label, if the batch has none yet.
fn note_label(fold: &mut Fold, batch: &Cell<'_>, label: Cell<'_>) {
    if let (Some(b), Some(l)) = (text(batch), text(&label)) {
        let b = String::from_utf8_lossy(b);
        if !fold.labels.contains_key(b.as_ref()) {
            let l = String::from_utf8_lossy(l).into_owned();
            fold.labels.insert(b.into_owned(), l);
        }
    }
}

/// Scans the Parquet files of `inputs` (only `batch`'s rows when given; an error, naming
/// the batches there are, when it has none; only fetched rows created in `span`), keeping
/// apart what `dims` asks.
pub(crate) fn scan(
    inputs: &Inputs,
    shown: &Path,
    batch: Option<&str>,
    span: Span,
    dims: &Dims,
) -> anyhow::Result<Scan> {
    let (by_batch, by_status) = (dims.by_batch, dims.by_status);
    let need_batch = by_batch || batch.is_some();
    let names = names(dims, need_batch);
    let mut fold = Fold::default();
    let mut batches = BTreeSet::new();
    let mut matched = false;
    columns::read(inputs, &names, &mut |c: &Chunk<'_>| {
        let col = |i: usize| &c.cols[i];
        for r in 0..c.rows {
            let batch_cell = match (need_batch, c.batch_id) {
                (false, _) => Cell::Null,
                (true, Some(b)) => Cell::Text(b),
                (true, None) => col(12).cell(r),
            };
            if let Some(want) = batch {
                if text(&batch_cell) != Some(want.as_bytes()) {
                    if let Cell::Text(b) = batch_cell {
                        if !batches.contains(b) {
                            batches.insert(b.to_owned());
                        }
                    }
                    continue;
                }
                matched = true;
            }
            if text(&col(0).cell(r)) != Some(b"fetched") {
                fold.skip();
                continue;
            }
            let created_at = int(col(3).cell(r));
            if !span.contains(created_at) {
                continue;
            }
            let key = (
                id(&mut fold, col(1).cell(r)),
                id(&mut fold, col(2).cell(r)),
                created_at.map(day::of_unix),
                if by_batch {
                    id(&mut fold, batch_cell)
                } else {
                    0
                },
                if by_status {
                    id(&mut fold, col(13).cell(r))
                } else {
                    0
                },
                fold.meta_id(text(&col(14).cell(r)), &dims.meta),
            );
            if dims.labels {
                note_label(&mut fold, &batch_cell, col(15).cell(r));
            }
            let t: [Option<i64>; 7] = std::array::from_fn(|i| int(col(4 + i).cell(r)));
            let dropped = !matches!(col(11).cell(r), Cell::Null);
            fold.add(key, t, dropped);
        }
        Ok(())
    })?;
    if let (Some(want), false) = (batch, matched) {
        return Err(no_such_batch(want, batches, shown));
    }
    Ok(fold.finish())
}

/// `--batch` names a batch the export has no rows of: say which it has.
fn no_such_batch(want: &str, batches: BTreeSet<String>, shown: &Path) -> anyhow::Error {
    let have = if batches.is_empty() {
        "it has no rows".to_owned()
    } else {
        let first: Vec<String> = batches.into_iter().take(6).collect();
        format!("it holds {}", first.join(", "))
    };
    UsageError::new(format!(
        "--batch '{want}' has no rows in '{}'; {have}",
        shown.display()
    ))
    .into()
}
