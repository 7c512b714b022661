//! `sail-export list`: every batch of the account, paged with `after_id` until a short page
//! (the API has no `has_more`).

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde_json::json;

use crate::api::messages::WARN_AGE_S;
use crate::api::model::Batch;
use crate::cli::ListArgs;
use crate::error::{exit, UsageError};
use crate::out;
use crate::time::{age_text, now_unix, utc_text};

/// Runs `list`; returns the exit code.
pub(crate) async fn run(args: ListArgs) -> anyhow::Result<i32> {
    if args.limit == Some(0) {
        return Err(UsageError::new("--limit must be at least 1").into());
    }
    let client = super::client(&args.api, 1)?;
    let batches = crate::api::list_all(&client, args.limit).await?;
    let now = now_unix();
    if args.json {
        let rows: Vec<_> = batches
            .iter()
            .map(|b| {
                json!({
                    "id": b.id,
                    "label": b.label,
                    "created_at": b.created_at,
                    "created_at_utc": b.created_at.map(utc_text),
                    "request_counts": b.request_counts,
                })
            })
            .collect();
        out::line(&serde_json::to_string_pretty(&rows)?)?;
    } else {
        out::line(&render(&batches, now))?;
    }
    let old = batches
        .iter()
        .filter(|b| b.created_at.is_some_and(|c| now - c > WARN_AGE_S))
        .count();
    if old > 0 {
        note!(
            "note: {old} of {} batches are older than 40 hours; Sail deletes results within \
             48 hours of processing",
            batches.len()
        );
    }
    Ok(exit::OK)
}

/// The table of `list`.
fn render(batches: &[Batch], now: i64) -> String {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_header(vec![
        "id",
        "label",
        "created_at",
        "age",
        "request_counts",
    ]);
    for b in batches {
        t.add_row(vec![
            b.id.clone().unwrap_or_default(),
            b.label.clone().unwrap_or_default(),
            b.created_at.map(utc_text).unwrap_or_default(),
            b.created_at.map(|c| age_text(now - c)).unwrap_or_default(),
            b.request_counts_text(),
        ]);
    }
    format!("{t}\n{} batches", batches.len())
}
