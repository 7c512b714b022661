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
use crate::row::BatchInfo;
use crate::shard::Shard;
use crate::time::{age_text, now_unix};

/// Sail keeps a result at most this long after processing (its DPA): a 404 for an item of a
/// batch created longer ago than this, that the batch reports finished, is final.
const RETENTION_S: i64 = 48 * 3600;

/// How many ids a warning names before it says "…".
const NAMED: usize = 5;

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
    /// Manifest ids the batch's status does not list: written `not_found` ("not in this
    /// batch") without a request.
    pub(super) not_in_batch: IdSet,
    /// Why a 404 is final in this batch, when it is: "past retention (…)", the batch being
    /// older than Sail keeps results. `None`: a 404 stays an ordinary `not_found`.
    pub(super) gone: Option<String>,
    /// How to fetch (its `ids` are taken out into `ids`).
    pub(super) cfg: Config,
    /// What the status read said of the batch (label, created_at, request_counts), recorded
    /// with its rows; `None` when the read failed and a manifest let the run go on.
    pub(super) batch: Option<BatchInfo>,
}

/// The ids still to do after resume: the ones to request now and the unfinished ones.
pub(super) struct Work {
    /// Ids to request now.
    pub(super) todo: IdList,
    /// Unfinished ids (id, the batch's status string), in manifest order.
    pub(super) waiting: Vec<(String, String)>,
    /// Ids the output already holds fetched.
    pub(super) skipped: u64,
    /// Ids the output already holds as a final `not_found` (not requested again).
    pub(super) lost: u64,
    /// Manifest ids the batch does not list, in manifest order.
    pub(super) absent: Vec<String>,
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
                    not_in_batch: IdSet::default(),
                    gone: None,
                    cfg,
                    batch: None,
                });
            }
        };
        let info = info_of(&batch);
        let now = now_unix();
        if let Some(w) = retention_warning(id, batch.created_at, now) {
            eprintln!("{w}");
        }
        let gone = past_retention(batch.created_at, now);
        let unfinished: HashMap<String, String> = batch
            .unfinished()
            .into_iter()
            .map(|(i, s)| (i.to_owned(), s.to_owned()))
            .collect();
        let listed = batch.request_status.map(|r| r.into_ids());
        // The manifest's ids in the shard (the status's are sharded below).
        let given = given.map(|g| in_shard(g, cfg.shard));
        let not_in_batch = match (&given, listed.as_ref()) {
            (Some(g), Some(l)) if !l.is_empty() => not_listed(g, l, id),
            _ => IdSet::default(),
        };
        let ids = match given {
            Some(g) => g,
            None => {
                let listed = listed.unwrap_or_default();
                if listed.is_empty() {
                    return Err(anyhow!(
                        "batch '{id}' lists no requests in request_status; pass -m/--manifest"
                    ));
                }
                in_shard(listed, cfg.shard)
            }
        };
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
            not_in_batch,
            gone,
            cfg,
            batch: Some(info),
        })
    }

    /// The batch's label, stamped on every row the run writes.
    pub(super) fn batch_label(&self) -> Option<String> {
        self.batch.as_ref().and_then(|b| b.label.clone())
    }

    /// Splits the ids into those to request, those still unfinished and those the batch
    /// does not list, leaving out the ones `already` fetched and the final `not_found` ones
    /// (`lost`). What is held for the run is one compact list of the ids still to fetch:
    /// the plan's list and its statuses are dropped once it is made.
    pub(super) fn work(&mut self, already: IdSet, lost: IdSet) -> Work {
        let ids = std::mem::take(&mut self.ids);
        let mut not_ready = std::mem::take(&mut self.not_ready);
        let not_in_batch = std::mem::take(&mut self.not_in_batch);
        let mut todo = IdList::with_capacity(ids.len(), 0);
        let mut waiting: Vec<(String, String)> = Vec::new();
        let (mut absent, mut lost_n) = (Vec::new(), 0u64);
        for id in ids.iter().filter(|id| !already.contains(id)) {
            if lost.contains(id) {
                lost_n += 1;
            } else if not_in_batch.contains(id) {
                absent.push(id.to_owned());
            } else {
                match not_ready.remove_entry(id) {
                    Some(entry) => waiting.push(entry),
                    None => todo.push(id),
                }
            }
        }
        todo.shrink_to_fit();
        let skipped = (ids.len() - todo.len() - waiting.len() - absent.len()) as u64 - lost_n;
        Work {
            todo,
            waiting,
            skipped,
            lost: lost_n,
            absent,
        }
    }
}

/// What the batch's status read says of it, to record with its rows.
fn info_of(batch: &Batch) -> BatchInfo {
    BatchInfo {
        label: batch.label.clone(),
        created_at: batch.created_at,
        request_counts: Some(batch.request_counts_text()).filter(|t| !t.is_empty()),
    }
}

/// Why a 404 is final in a batch created at `created_at`, when it is older than Sail keeps
/// results.
fn past_retention(created_at: Option<i64>, now: i64) -> Option<String> {
    let age = now - created_at?;
    (age > RETENTION_S).then(|| {
        format!(
            "past retention (the batch was created {} ago; Sail keeps results at most 48 h)",
            age_text(age)
        )
    })
}

/// The ids of `given` (the manifest) that `listed` (the batch's status) does not have, with
/// one warning naming how many and a few of them.
fn not_listed(given: &IdList, listed: &IdList, batch_id: &str) -> IdSet {
    let listed: IdSet = listed.iter().collect();
    let absent: IdList = given.iter().filter(|id| !listed.contains(id)).collect();
    if !absent.is_empty() {
        let mut named: Vec<&str> = absent.iter().take(NAMED).collect();
        if absent.len() > NAMED {
            named.push("…");
        }
        eprintln!(
            "warning: {} ids of the manifest are not in batch '{batch_id}' (its status does not \
             list them: {}); they get not_found rows (\"not in this batch\") without a request",
            absent.len(),
            named.join(", ")
        );
    }
    IdSet::from(absent)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_leaves_out_what_the_output_settled_and_sorts_the_rest() {
        let ids: IdList = ["a", "b", "c", "d", "e"].into_iter().collect();
        let mut plan = Plan {
            ids,
            not_ready: HashMap::from([("d".to_owned(), "RUNNING".to_owned())]),
            not_in_batch: ["c"].into_iter().collect(),
            gone: None,
            cfg: Config::new("b", "x.sqlite".into()),
            batch: None,
        };
        let work = plan.work(["a"].into_iter().collect(), ["b"].into_iter().collect());
        assert_eq!(work.todo.iter().collect::<Vec<_>>(), ["e"]);
        assert_eq!(work.waiting, [("d".to_owned(), "RUNNING".to_owned())]);
        assert_eq!(work.absent, ["c"]);
        assert_eq!((work.skipped, work.lost), (1, 1));
    }
}
