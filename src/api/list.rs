//! Every batch of the account: `GET /batches`, paged with `after_id` until a short page
//! (the API has no `has_more`).

use std::collections::HashSet;

use anyhow::anyhow;

use super::messages::{auth_error, v1_hint};
use super::model::Batch;
use super::{Client, Outcome};
use crate::error::UsageError;

/// The largest page the API serves.
pub(crate) const MAX_PAGE: u64 = 200;

/// Every batch, in the order the API gives them, at most `limit`. Pages hold
/// `min(200, limit)` batches; a page shorter than that is the last one. A page that brings
/// no new id (a server repeating itself) ends the listing with a warning instead of looping.
pub(crate) async fn list_all(client: &Client, limit: Option<u64>) -> anyhow::Result<Vec<Batch>> {
    let page_size = limit.unwrap_or(MAX_PAGE).min(MAX_PAGE);
    let mut all: Vec<Batch> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut after: Option<String> = None;
    loop {
        let page = match client
            .list_page(page_size as u32, after.as_deref())
            .await
            .outcome
        {
            Outcome::Ok { value, .. } => value,
            other => return Err(page_error(other, after.as_deref(), client.base_url())),
        };
        let full = page.len() as u64 >= page_size;
        let last = page.last().and_then(|b| b.id.clone());
        let before = all.len();
        for b in page {
            let new = match &b.id {
                Some(id) => seen.insert(id.clone()),
                None => true,
            };
            if new && limit.is_none_or(|l| (all.len() as u64) < l) {
                all.push(b);
            }
        }
        let reached = limit.is_some_and(|l| all.len() as u64 >= l);
        if !full || reached {
            return Ok(all);
        }
        if all.len() == before {
            eprintln!(
                "warning: the API returned a page with no new batch after '{}'; stopping the \
                 listing here ({} batches)",
                after.as_deref().unwrap_or("the start"),
                all.len()
            );
            return Ok(all);
        }
        let Some(next) = last else {
            eprintln!("warning: the last batch of a page has no id; cannot page further");
            return Ok(all);
        };
        after = Some(next);
    }
}

/// The error for a failed page of `GET /batches`.
fn page_error<T>(outcome: Outcome<T>, after: Option<&str>, base_url: &str) -> anyhow::Error {
    let at = after.map_or("the first page".to_owned(), |a| {
        format!("the page after '{a}'")
    });
    match outcome {
        Outcome::AuthRejected => auth_error(),
        Outcome::NotFound { .. } => UsageError::new(match v1_hint(base_url) {
            Some(hint) => format!("{base_url}/batches is not found (HTTP 404): {hint}"),
            None => format!(
                "{base_url}/batches is not found (HTTP 404); check --base-url (it must end in /v1)"
            ),
        })
        .into(),
        Outcome::Failed { reason } => anyhow!("cannot list batches ({at}): {reason}"),
        Outcome::Skipped | Outcome::Ok { .. } => anyhow!("cannot list batches ({at})"),
    }
}
