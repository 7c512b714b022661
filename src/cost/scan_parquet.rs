//! The scan over Parquet exports read in place (`export::columns`): the same buckets as the
//! SQLite scan, from only the columns a report needs, with no copy and no scratch file.

use std::collections::BTreeSet;
use std::path::Path;

use super::scan::{Fold, Scan};
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

/// Scans the Parquet files of `inputs` (only `batch`'s rows when given; an error, naming
/// the batches there are, when it has none; only fetched rows created in `span`);
/// `by_batch` / `by_status` keep those apart.
pub(crate) fn scan(
    inputs: &Inputs,
    shown: &Path,
    batch: Option<&str>,
    span: Span,
    by_batch: bool,
    by_status: bool,
) -> anyhow::Result<Scan> {
    let need_batch = by_batch || batch.is_some();
    let mut names = vec!["fetch_state", "model", "completion_window", "created_at"];
    names.extend(TOKENS);
    names.push("dropped_fields");
    names.push(if need_batch {
        "batch_id"
    } else {
        "fetch_state"
    });
    names.push(if by_status { "status" } else { "fetch_state" });
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
            );
            let t: [Option<i64>; 7] = std::array::from_fn(|i| int(col(4 + i).cell(r)));
            let dropped = !matches!(col(11).cell(r), Cell::Null);
            fold.add(key, t, dropped);
        }
        Ok(())
    })?;
    if let (Some(want), false) = (batch, matched) {
        let have = if batches.is_empty() {
            "it has no rows".to_owned()
        } else {
            let first: Vec<String> = batches.into_iter().take(6).collect();
            format!("it holds {}", first.join(", "))
        };
        return Err(UsageError::new(format!(
            "--batch '{want}' has no rows in '{}'; {have}",
            shown.display()
        ))
        .into());
    }
    Ok(fold.finish())
}
