//! What a run will do before it requests anything: a batch id fit to name a file, the ids
//! from the manifest or the batch's status, those not finished yet, and what the output
//! already holds (resume).

use std::collections::HashMap;

use anyhow::anyhow;

use super::Config;
use crate::api::client::DEFAULT_BASE_URL;
use crate::api::messages::{auth_error, batch_error, retention_warning, v1_hint};
use crate::api::model::Batch;
use crate::api::{Client, Outcome};
use crate::error::UsageError;
use crate::ids::{IdList, IdSet};
use crate::shard::Shard;
use crate::time::now_unix;

/// Checks that `id` can be one path segment: the default output is named after it and it
/// goes into the URL. Empty, `.`, `..`, and ids with `/`, `\`, whitespace or control
/// characters are refused (exit 2) before anything is requested or created.
pub fn check_batch_id(id: &str) -> Result<(), UsageError> {
    let bad = id.is_empty()
        || id == "."
        || id == ".."
        || id
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_whitespace() || c.is_control());
    if !bad {
        return Ok(());
    }
    Err(UsageError::new(format!(
        "BATCH_ID '{}' is not a batch id: it must be one name (like batch_abc123), not empty, \
         '.' or '..', without '/', '\\', spaces or control characters",
        id.escape_debug()
    )))
}

/// The error for a batch the API answers 404 for: nothing was requested for its results.
/// When the list of batches is a 404 too, or the base URL lacks `/v1`, the base URL is the
/// likely typo and the message says so.
pub(super) async fn no_batch(client: &Client, id: &str) -> anyhow::Error {
    let base = client.base_url();
    let every_route = matches!(
        client.list_page(1, None).await.outcome,
        Outcome::NotFound { .. }
    );
    let hint = if let Some(hint) = v1_hint(base) {
        hint
    } else if every_route {
        format!(
            "the API at {base} answers 404 to every route: check --base-url / SAIL_BASE_URL \
             (Sail's is {DEFAULT_BASE_URL}, with /v1)"
        )
    } else {
        format!("at {base}: check BATCH_ID (Sail deletes batch data within 48 hours)")
    };
    UsageError::new(format!(
        "no batch '{id}' for this key; {hint}. Nothing was fetched or written"
    ))
    .into()
}

/// What to fetch and how.
pub(super) struct Plan {
    /// Unique custom_ids, in manifest order.
    pub(super) ids: IdList,
    /// Ids known not to be finished (id → the batch's status string): written as `pending`
    /// without a request.
    pub(super) not_ready: HashMap<String, String>,
    /// How to fetch (its `ids` are taken out into `ids`).
    pub(super) cfg: Config,
}

/// The ids still to do after resume: the ones to request now and the unfinished ones.
pub(super) struct Work {
    /// Ids to request now.
    pub(super) todo: IdList,
    /// Unfinished ids (id, the batch's status string), in manifest order.
    pub(super) waiting: Vec<(String, String)>,
    /// Ids the output already holds fetched.
    pub(super) skipped: u64,
}

impl Plan {
    /// Makes the plan from the batch's status (`status`) and the manifest in `cfg`. A
    /// status that cannot be read is worked around when there is a manifest. Only
    /// unfinished statuses are kept: a 100,000-item batch costs no second map.
    pub(super) fn new(
        mut cfg: Config,
        status: Outcome<Batch>,
        base_url: &str,
    ) -> anyhow::Result<Plan> {
        let id = cfg.batch_id.as_str();
        let (batch, given) = match (status, cfg.ids.take()) {
            (Outcome::Ok { value, .. }, given) => (value, given),
            (Outcome::AuthRejected, _) => return Err(auth_error()),
            (other, None) => {
                return Err(batch_error(other, id, base_url)
                    .context("the ids come from the batch status without -m/--manifest"))
            }
            (other, Some(ids)) => {
                warn_without_status(other, id);
                return Ok(Plan {
                    ids: in_shard(ids, cfg.shard),
                    not_ready: HashMap::new(),
                    cfg,
                });
            }
        };
        if let Some(w) = retention_warning(id, batch.created_at, now_unix()) {
            eprintln!("{w}");
        }
        let unfinished: HashMap<String, String> = batch
            .unfinished()
            .into_iter()
            .map(|(i, s)| (i.to_owned(), s.to_owned()))
            .collect();
        let listed = batch.request_status.map(|r| r.into_ids());
        let ids = given.or(listed).unwrap_or_default();
        if ids.is_empty() {
            return Err(anyhow!(
                "batch '{id}' lists no requests in request_status; pass -m/--manifest"
            ));
        }
        let ids = in_shard(ids, cfg.shard);
        let not_ready = if unfinished.is_empty() {
            unfinished
        } else {
            ids.iter()
                .filter_map(|i| unfinished.get_key_value(i))
                .map(|(i, s)| (i.clone(), s.clone()))
                .collect()
        };
        Ok(Plan {
            ids,
            not_ready,
            cfg,
        })
    }

    /// Splits the ids into those to request and those still unfinished, leaving out the
    /// ones `already` fetched. What is held for the run is one compact list of the ids
    /// still to fetch: the plan's list and its statuses are dropped once it is made.
    pub(super) fn work(&mut self, already: IdSet) -> Work {
        let ids = std::mem::take(&mut self.ids);
        let mut not_ready = std::mem::take(&mut self.not_ready);
        let mut todo = IdList::with_capacity(ids.len(), 0);
        let mut waiting: Vec<(String, String)> = Vec::new();
        for id in ids.iter().filter(|id| !already.contains(id)) {
            match not_ready.remove_entry(id) {
                Some(entry) => waiting.push(entry),
                None => todo.push(id),
            }
        }
        todo.shrink_to_fit();
        let skipped = (ids.len() - todo.len() - waiting.len()) as u64;
        Work {
            todo,
            waiting,
            skipped,
        }
    }
}

/// The ids of `shard` (all of them without one), in their order.
fn in_shard(ids: IdList, shard: Option<Shard>) -> IdList {
    match shard {
        None => ids,
        Some(s) => ids.iter().filter(|id| s.contains(id)).collect(),
    }
}

/// Says why the batch status is not used, when a manifest lets the run go on without it (a
/// status that failed to read; a 404 has ended the run before this).
fn warn_without_status(status: Outcome<Batch>, id: &str) {
    let why = match status {
        Outcome::Failed { reason } => format!("cannot read the status of '{id}': {reason}"),
        _ => format!("the status of '{id}' is unavailable"),
    };
    eprintln!("warning: {why}; fetching every id without it (unfinished items come back pending)");
}
