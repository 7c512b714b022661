//! A batch as `GET /batches` and `GET /batches/{id}` return it, and a page of the list.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;

use super::{is_terminal, lenient_int, lenient_string, RequestStatus};

/// One batch as returned by `GET /batches` and `GET /batches/{id}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Batch {
    /// Batch id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// Optional label given at creation.
    #[serde(default, deserialize_with = "lenient_string")]
    pub label: Option<String>,
    /// Unix seconds.
    #[serde(default, deserialize_with = "lenient_int")]
    pub created_at: Option<i64>,
    /// The total number of requests (Sail sends a plain integer).
    #[serde(default)]
    pub request_counts: Option<Value>,
    /// Per-item status, keyed by custom_id; only on `GET /batches/{id}`.
    #[serde(default)]
    pub request_status: Option<RequestStatus>,
}

impl Batch {
    /// The status string of each listed item, as given, in the order the API listed them;
    /// an entry without a readable status maps to [`MISSING_STATUS`](super::MISSING_STATUS).
    pub(crate) fn item_statuses(&self) -> impl Iterator<Item = (&str, &str)> {
        self.request_status.iter().flat_map(RequestStatus::iter)
    }

    /// The items whose status is not terminal by [`is_terminal`] (id → status). Items
    /// finished, or not listed, are absent: a 100,000-item batch that is done costs an
    /// empty map.
    pub(crate) fn unfinished(&self) -> HashMap<&str, &str> {
        self.item_statuses()
            .filter(|(_, s)| !is_terminal(s))
            .collect()
    }

    /// How many items have each status string (as given, unknown ones included).
    pub(crate) fn by_status(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for (_, status) in self.item_statuses() {
            *counts.entry(status.to_owned()).or_insert(0) += 1;
        }
        counts
    }

    /// How many requests the batch holds, when `request_counts` says: the integer Sail
    /// sends, or the `total` of an object of counts.
    pub(crate) fn total_requests(&self) -> Option<u64> {
        match self.request_counts.as_ref()? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            Value::Object(m) => m.get("total").and_then(Value::as_u64),
            _ => None,
        }
    }

    /// `request_counts` as a short text: the integer Sail sends, or compact JSON for any
    /// other shape; empty when absent.
    pub(crate) fn request_counts_text(&self) -> String {
        match &self.request_counts {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
        }
    }
}

/// A page of `GET /batches`: Sail sends a bare array; an OpenAI-style `{"data": [...]}`
/// envelope is accepted too. `None` when the body is neither.
pub(crate) fn batch_list(body: &[u8]) -> Option<Vec<Batch>> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Page {
        Bare(Vec<Batch>),
        Wrapped { data: Vec<Batch> },
    }
    match serde_json::from_slice(body).ok()? {
        Page::Bare(v) | Page::Wrapped { data: v } => Some(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::model::request_status::MISSING_STATUS;

    #[test]
    fn statuses_are_counted_as_given() {
        let b: Batch = serde_json::from_str(
            r#"{"id":"b","request_counts":3,"request_status":{
                "a":{"status":"COMPLETED"},"b":{"status":"RUNNING"},
                "c":{"status":"RUNNING"},"d":{"status":"EXPIRED_SOMEDAY"},"e":{}}}"#,
        )
        .unwrap();
        let counts = b.by_status();
        assert_eq!(counts["COMPLETED"], 1);
        assert_eq!(counts["RUNNING"], 2);
        assert_eq!(counts["EXPIRED_SOMEDAY"], 1);
        assert_eq!(counts[MISSING_STATUS], 1);
        assert_eq!(b.request_counts_text(), "3");
    }

    #[test]
    fn request_status_of_another_shape_reads_as_empty() {
        for odd in ["[1,[2],{}]", "null", "\"all done\"", "3", "true"] {
            let b: Batch =
                serde_json::from_str(&format!(r#"{{"id":"b","request_status":{odd}}}"#)).unwrap();
            assert_eq!(b.item_statuses().count(), 0, "{odd}");
            assert_eq!(b.id.as_deref(), Some("b"));
        }
    }

    #[test]
    fn batch_lists_are_bare_arrays_or_data_envelopes() {
        let bare = batch_list(br#"[{"id":"b1","created_at":1},{"id":"b2"}]"#).unwrap();
        assert_eq!(bare.len(), 2);
        let wrapped = batch_list(br#"{"object":"list","data":[{"id":"b1"}]}"#).unwrap();
        assert_eq!(wrapped[0].id.as_deref(), Some("b1"));
        assert!(batch_list(br#"{"error":{"message":"x"}}"#).is_none());
        assert!(batch_list(b"<html>").is_none());
    }
}
