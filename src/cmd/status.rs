//! `sail-export status`: where one batch stands (age, request count, items per status),
//! with a warning when its results are close to Sail's 48-hour deletion.

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use serde_json::json;

use crate::api::messages::{batch_error, retention_warning, WARN_AGE_S};
use crate::api::model::{is_terminal, Batch};
use crate::api::{Client, Outcome};
use crate::cli::StatusArgs;
use crate::error::exit;
use crate::out;
use crate::time::{age_text, now_unix, utc_text};

/// Runs `status`; returns the exit code.
pub(crate) async fn run(args: StatusArgs) -> anyhow::Result<i32> {
    crate::fetch::check_batch_id(&args.batch_id)?;
    let client = super::client(&args.api, 1)?;
    let batch = read_batch(&client, &args.batch_id).await?;
    let now = now_unix();
    if args.json {
        out::line(&serde_json::to_string_pretty(&to_json(&batch, now))?)?;
    } else {
        out::line(&render(&batch, &args.batch_id, now))?;
    }
    if let Some(w) = retention_warning(&args.batch_id, batch.created_at, now) {
        eprintln!("{w}");
    }
    Ok(exit::OK)
}

/// `GET /batches/{id}`, with every failure turned into an error a user can act on: 404
/// (exit 2) names the batch and `--base-url`; 401/403 names `SAIL_API_KEY`.
pub(crate) async fn read_batch(client: &Client, batch_id: &str) -> anyhow::Result<Batch> {
    match client.batch(batch_id).await.outcome {
        Outcome::Ok { value, .. } => Ok(value),
        other => Err(batch_error(other, batch_id, client.base_url())),
    }
}

/// The JSON document of `status --json`.
fn to_json(b: &Batch, now: i64) -> serde_json::Value {
    let by_status = b.by_status();
    let terminal: u64 = by_status
        .iter()
        .filter(|(s, _)| is_terminal(s))
        .map(|(_, n)| n)
        .sum();
    json!({
        "id": b.id,
        "label": b.label,
        "created_at": b.created_at,
        "created_at_utc": b.created_at.map(utc_text),
        "age_s": b.created_at.map(|c| now - c),
        "request_counts": b.request_counts,
        "by_status": by_status,
        "items": by_status.values().sum::<u64>(),
        "terminal": terminal,
        "retention_warning": b.created_at.is_some_and(|c| now - c > WARN_AGE_S),
    })
}

/// The two tables of `status`: the batch, then its items per status.
fn render(b: &Batch, batch_id: &str, now: i64) -> String {
    let mut head = Table::new();
    head.load_style(UTF8_FULL_CONDENSED);
    let created = b.created_at.map(utc_text).unwrap_or_default();
    let age = b.created_at.map(|c| age_text(now - c)).unwrap_or_default();
    head.add_row(vec!["id", b.id.as_deref().unwrap_or(batch_id)]);
    head.add_row(vec!["label", b.label.as_deref().unwrap_or("")]);
    head.add_row(vec!["created_at", &created]);
    head.add_row(vec!["age", &age]);
    head.add_row(vec!["request_counts", &b.request_counts_text()]);
    let by_status = b.by_status();
    if by_status.is_empty() {
        return format!("{head}\nrequest_status: not returned by the API");
    }
    let total: u64 = by_status.values().sum();
    let mut counts = Table::new();
    counts
        .load_style(UTF8_FULL_CONDENSED)
        .set_header(vec!["status", "items", "share"]);
    for (status, n) in &by_status {
        let share = format!("{:.1}%", *n as f64 * 100.0 / total as f64);
        counts.add_row(vec![status.clone(), n.to_string(), share]);
    }
    counts.add_row(vec![
        "total".to_owned(),
        total.to_string(),
        "100.0%".to_owned(),
    ]);
    for i in 1..=2 {
        if let Some(col) = counts.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    format!("{head}\n{counts}")
}
