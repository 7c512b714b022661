//! What the user is told when an API call fails or a batch is about to expire: errors that
//! name the flag or variable that fixes them, and the 48-hour retention warning.

use std::time::Duration;

use anyhow::anyhow;

use super::client::DEFAULT_BASE_URL;
use super::Outcome;
use crate::error::UsageError;
use crate::time::age_text;

/// Past this age a batch's results may be about to vanish (Sail keeps them at most 48 h).
pub(crate) const WARN_AGE_S: i64 = 40 * 3600;

/// The error for a failed `GET /batches/{id}`: 404 (exit 2) names the batch and
/// `--base-url` (and says to add `/v1` when it lacks it); 401/403 names `SAIL_API_KEY`.
pub(crate) fn batch_error<T>(outcome: Outcome<T>, batch_id: &str, base_url: &str) -> anyhow::Error {
    match outcome {
        Outcome::NotFound { .. } => UsageError::new(match v1_hint(base_url) {
            Some(hint) => format!("batch '{batch_id}' not found: {hint}"),
            None => format!(
                "batch '{batch_id}' not found at {base_url} (check BATCH_ID and --base-url; \
                 Sail deletes batch data within 48 hours)"
            ),
        })
        .into(),
        Outcome::AuthRejected => auth_error(),
        Outcome::Failed { reason } => {
            anyhow!("cannot read the status of batch '{batch_id}': {reason}")
        }
        Outcome::Skipped => anyhow!("the API client stopped before reading batch '{batch_id}'"),
        Outcome::Ok { .. } => anyhow!("internal: batch '{batch_id}' was read fine"),
    }
}

/// What to say about a base URL that does not end in `/v1`, the likely cause of a 404:
/// every route of the API is under it.
pub(crate) fn v1_hint(base_url: &str) -> Option<String> {
    (!base_url.trim_end_matches('/').ends_with("/v1")).then(|| {
        format!(
            "--base-url / SAIL_BASE_URL {base_url} does not end in /v1 (add it: Sail's is \
             {DEFAULT_BASE_URL})"
        )
    })
}

/// The error for a rejected key (exit 1).
pub(crate) fn auth_error() -> anyhow::Error {
    anyhow!("the API rejected the key (HTTP 401/403); check SAIL_API_KEY or --api-key-file")
}

/// The API cannot be reached: it never answered (most likely a wrong base URL or no
/// network), or stopped answering mid-run (`why` says since when).
pub(crate) fn unreachable_error(base_url: &str, why: &str) -> anyhow::Error {
    anyhow!(
        "cannot reach the API at {base_url}: {why}; check --base-url / SAIL_BASE_URL and the network"
    )
}

/// The warning to print when the batch is older than [`WARN_AGE_S`], else `None`.
pub(crate) fn retention_warning(
    batch_id: &str,
    created_at: Option<i64>,
    now: i64,
) -> Option<String> {
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

/// A transport error in a few words, without the URL's query or any header.
pub(crate) fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timed out after {}s", timeout.as_secs_f64());
    }
    if let Some(why) = super::tls::certificate_problem(e).or_else(|| super::tls::wrong_scheme(e)) {
        return why;
    }
    let kind = if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "body read failed"
    } else {
        "request failed"
    };
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    format!("{kind}: {source}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_batches_past_forty_hours_warn() {
        let now = 1_800_000_000;
        assert!(retention_warning("b", Some(now - 39 * 3600), now).is_none());
        assert!(retention_warning("b", None, now).is_none());
        let w = retention_warning("b", Some(now - 41 * 3600), now).unwrap();
        assert!(w.contains("48 hours") && w.contains("41h 0m"), "{w}");
    }
}
