//! `sail-export status`: where one batch stands (age, request count, items per status),
//! with a warning when its results are close to Sail's 48-hour deletion.

use anyhow::anyhow;
use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use serde_json::json;

use crate::api::model::{is_terminal_item_status, Batch};
use crate::api::{Client, Outcome};
use crate::cli::StatusArgs;
use crate::error::{exit, UsageError};
use crate::summary::now_unix;

/// Past this age a batch's results may be about to vanish (Sail keeps them at most 48 h).
pub const WARN_AGE_S: i64 = 40 * 3600;

/// Runs `status`; returns the exit code.
pub async fn run(args: StatusArgs) -> anyhow::Result<i32> {
    let client = super::client(&args.api, 1)?;
    let batch = read_batch(&client, &args.batch_id).await?;
    let now = now_unix();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&to_json(&batch, now))?);
    } else {
        println!("{}", render(&batch, &args.batch_id, now));
    }
    if let Some(w) = retention_warning(&args.batch_id, batch.created_at, now) {
        eprintln!("{w}");
    }
    Ok(exit::OK)
}

/// `GET /batches/{id}`, with every failure turned into an error a user can act on: 404
/// (exit 2) names the batch and `--base-url`; 401/403 names `SAIL_API_KEY`.
pub async fn read_batch(client: &Client, batch_id: &str) -> anyhow::Result<Batch> {
    match client.batch(batch_id).await.outcome {
        Outcome::Ok { value, .. } => Ok(value),
        other => Err(batch_error(other, batch_id, client.base_url())),
    }
}

/// The error for a failed `GET /batches/{id}`.
pub fn batch_error<T>(outcome: Outcome<T>, batch_id: &str, base_url: &str) -> anyhow::Error {
    match outcome {
        Outcome::NotFound { .. } => UsageError::new(format!(
            "batch '{batch_id}' not found at {base_url} (check BATCH_ID and --base-url; \
             Sail deletes batch data within 48 hours)"
        ))
        .into(),
        Outcome::AuthRejected => auth_error(),
        Outcome::Failed { reason } => {
            anyhow!("cannot read the status of batch '{batch_id}': {reason}")
        }
        Outcome::Skipped => anyhow!("the API client stopped before reading batch '{batch_id}'"),
        Outcome::Ok { .. } => anyhow!("internal: batch '{batch_id}' was read fine"),
    }
}

/// The error for a rejected key (exit 1).
pub fn auth_error() -> anyhow::Error {
    anyhow!("the API rejected the key (HTTP 401/403); check SAIL_API_KEY or --api-key-file")
}

/// The warning to print when the batch is older than [`WARN_AGE_S`], else `None`.
pub fn retention_warning(batch_id: &str, created_at: Option<i64>, now: i64) -> Option<String> {
    let age = now - created_at?;
    (age > WARN_AGE_S).then(|| {
        format!(
            "warning: batch '{batch_id}' was created {} ago; Sail deletes prompts and results \
             within 48 hours of processing, so results may already be gone or vanish soon: \
             export them now (sail-export fetch {batch_id})",
            age_text(age)
        )
    })
}

/// A unix time as RFC 3339 UTC (`2026-12-01T18:10:01Z`); the number itself when out of range.
pub fn utc_text(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).map_or_else(
        || unix.to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

/// A duration in seconds as `5m 3s`, `41h 12m` or `3d 4h`.
pub fn age_text(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..172_800 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// The JSON document of `status --json`.
fn to_json(b: &Batch, now: i64) -> serde_json::Value {
    let by_status = b.by_status();
    let terminal: u64 = by_status
        .iter()
        .filter(|(s, _)| is_terminal_item_status(s))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age_text(65), "1m 5s");
        assert_eq!(age_text(41 * 3600 + 12 * 60), "41h 12m");
        assert_eq!(age_text(3 * 86_400 + 4 * 3600), "3d 4h");
        assert_eq!(utc_text(1_764_612_601), "2025-12-01T18:10:01Z");
    }

    #[test]
    fn only_batches_past_forty_hours_warn() {
        let now = 1_800_000_000;
        assert!(retention_warning("b", Some(now - 39 * 3600), now).is_none());
        assert!(retention_warning("b", None, now).is_none());
        let w = retention_warning("b", Some(now - 41 * 3600), now).unwrap();
        assert!(w.contains("48 hours") && w.contains("41h 0m"), "{w}");
    }
}
