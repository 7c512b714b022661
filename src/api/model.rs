//! Serde types mirroring Sail's wire format, lenient by design: unknown fields are ignored,
//! statuses are open strings, and a field of an unexpected type becomes `None`, not an error.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::lenient::{ignore_other_shapes, Fields, Object, Scalar, Skip};
use super::output;
use crate::ids::IdList;

/// A Responses-API object, as returned by `GET /batches/{batch_id}/{custom_id}`.
#[derive(Debug, Default, Deserialize)]
pub struct ResponseObject {
    /// Response id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// Always `"response"` for a real response object.
    #[serde(default, deserialize_with = "lenient_string")]
    pub object: Option<String>,
    /// Unix seconds.
    #[serde(default, deserialize_with = "lenient_int")]
    pub created_at: Option<i64>,
    /// Status string as given (`completed`, `in_progress`, ... or anything new).
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: Option<String>,
    /// Model id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub model: Option<String>,
    /// Token usage.
    #[serde(default, deserialize_with = "lenient_usage")]
    pub usage: Option<Usage>,
    /// Request metadata echoed back (holds `completion_window`).
    #[serde(default)]
    pub metadata: Option<Value>,
    /// The SDK-style text of `output` (a string, an array of items, an object or null),
    /// gathered while parsing (see `output::output_text`).
    #[serde(default, rename = "output", deserialize_with = "output::output_text")]
    pub output_text: Option<String>,
    /// Free-form error object.
    #[serde(default)]
    pub error: Option<Value>,
    /// Free-form, usually `{reason: ...}`.
    #[serde(default)]
    pub incomplete_details: Option<Value>,
    /// Requested output limit.
    #[serde(default, deserialize_with = "lenient_int")]
    pub max_output_tokens: Option<i64>,
    /// Sampling temperature.
    #[serde(default, deserialize_with = "lenient_float")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, deserialize_with = "lenient_float")]
    pub top_p: Option<f64>,
}

impl ResponseObject {
    /// Whether this looks like a response object rather than an error envelope or some
    /// other JSON: `object == "response"`, or an `id` together with a status, model or usage.
    pub fn is_response(&self) -> bool {
        self.object.as_deref() == Some("response")
            || (self.id.is_some()
                && (self.status.is_some() || self.model.is_some() || self.usage.is_some()))
    }
}

/// `usage` of a response; every count optional (absent stays NULL, never 0). Read with
/// [`Fields`]: each count as by `lenient_int`, each breakdown as an object or `None`.
#[derive(Debug, Default, PartialEq)]
pub struct Usage {
    /// All input tokens, cached ones included.
    pub input_tokens: Option<i64>,
    /// Breakdown of input tokens.
    pub input_tokens_details: Option<Details>,
    /// All output tokens, reasoning ones included.
    pub output_tokens: Option<i64>,
    /// Breakdown of output tokens.
    pub output_tokens_details: Option<Details>,
    /// Input + output.
    pub total_tokens: Option<i64>,
    /// Chat-Completions-style alias of `input_tokens`.
    pub prompt_tokens: Option<i64>,
    /// Chat-Completions-style alias of `output_tokens`.
    pub completion_tokens: Option<i64>,
}

impl Fields for Usage {
    const NAMES: &'static [&'static str] = &[
        "input_tokens",
        "input_tokens_details",
        "output_tokens",
        "output_tokens_details",
        "total_tokens",
        "prompt_tokens",
        "completion_tokens",
    ];

    fn read<'de, A: MapAccess<'de>>(&mut self, name: &str, map: &mut A) -> Result<(), A::Error> {
        let int = |map: &mut A| map.next_value::<Scalar>().map(Scalar::int);
        let details = |map: &mut A| map.next_value::<Object<Details>>().map(|o| o.0);
        match name {
            "input_tokens" => self.input_tokens = int(map)?,
            "input_tokens_details" => self.input_tokens_details = details(map)?,
            "output_tokens" => self.output_tokens = int(map)?,
            "output_tokens_details" => self.output_tokens_details = details(map)?,
            "total_tokens" => self.total_tokens = int(map)?,
            "prompt_tokens" => self.prompt_tokens = int(map)?,
            "completion_tokens" => self.completion_tokens = int(map)?,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

/// `*_tokens_details`: Sail uses one schema for both sides.
#[derive(Debug, Default, PartialEq)]
pub struct Details {
    /// Tokens served from cache.
    pub cached_tokens: Option<i64>,
    /// Reasoning tokens.
    pub reasoning_tokens: Option<i64>,
}

impl Fields for Details {
    const NAMES: &'static [&'static str] = &["cached_tokens", "reasoning_tokens"];

    fn read<'de, A: MapAccess<'de>>(&mut self, name: &str, map: &mut A) -> Result<(), A::Error> {
        let n = map.next_value::<Scalar>()?.int();
        match name {
            "cached_tokens" => self.cached_tokens = n,
            "reasoning_tokens" => self.reasoning_tokens = n,
            _ => {}
        }
        Ok(())
    }
}

/// One batch as returned by `GET /batches` and `GET /batches/{id}`.
#[derive(Debug, Default, Deserialize)]
pub struct Batch {
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
    /// an entry without a readable status maps to [`MISSING_STATUS`].
    pub fn item_statuses(&self) -> impl Iterator<Item = (&str, &str)> {
        self.request_status.iter().flat_map(RequestStatus::iter)
    }

    /// The items whose status is not terminal (id → status). Items finished, or not listed,
    /// are absent: a 100,000-item batch that is done costs an empty map.
    pub fn unfinished(&self) -> HashMap<&str, &str> {
        self.item_statuses()
            .filter(|(_, s)| !is_terminal_item_status(s))
            .collect()
    }

    /// How many items have each status string (as given, unknown ones included).
    pub fn by_status(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for (_, status) in self.item_statuses() {
            *counts.entry(status.to_owned()).or_insert(0) += 1;
        }
        counts
    }

    /// `request_counts` as a short text: the integer Sail sends, or compact JSON for any
    /// other shape; empty when absent.
    pub fn request_counts_text(&self) -> String {
        match &self.request_counts {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
        }
    }
}

/// A page of `GET /batches`: Sail sends a bare array; an OpenAI-style `{"data": [...]}`
/// envelope is accepted too. `None` when the body is neither.
pub fn batch_list(body: &[u8]) -> Option<Vec<Batch>> {
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

/// The status recorded for a `request_status` entry that has no status string.
pub const MISSING_STATUS: &str = "(none)";

/// `request_status`, held compactly: the custom_ids in one [`IdList`] and, per id, the
/// index of its status among the distinct status strings met. 100,000 items cost about 2 MB in a few blocks, not a map node and a string
/// each. A custom_id listed twice keeps its last status, as a JSON object would.
#[derive(Debug, Default, Clone)]
pub struct RequestStatus {
    ids: IdList,
    codes: Vec<u32>,
    names: Vec<String>,
}

impl RequestStatus {
    /// How many items are listed.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no item is listed.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// `(custom_id, status)` of every item, in the order the API gave them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.ids
            .iter()
            .zip(&self.codes)
            .map(|(id, &c)| (id, self.names[c as usize].as_ref()))
    }

    /// Takes out the custom_ids (the statuses are dropped).
    pub fn into_ids(self) -> IdList {
        self.ids
    }

    fn push(&mut self, id: &str, status: Option<String>, codes: &mut HashMap<String, u32>) {
        let status = status.as_deref().unwrap_or(MISSING_STATUS);
        let code = match codes.get(status) {
            Some(&c) => c,
            None => {
                // As many codes as distinct status strings: a handful in practice.
                let c = self.names.len() as u32;
                self.names.push(status.to_owned());
                codes.insert(status.to_owned(), c);
                c
            }
        };
        self.ids.push(id);
        self.codes.push(code);
    }

    /// Drops earlier entries of ids listed more than once (a JSON object keeps the last).
    fn without_repeats(self) -> RequestStatus {
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(self.len());
        for (i, id) in self.ids.iter().enumerate() {
            last.insert(id, i);
        }
        if last.len() == self.len() {
            drop(last);
            return self;
        }
        let mut out = RequestStatus {
            ids: IdList::with_capacity(last.len(), 0),
            codes: Vec::with_capacity(last.len()),
            names: self.names.clone(),
        };
        for (i, (id, &code)) in self.ids.iter().zip(&self.codes).enumerate() {
            if last[id] == i {
                out.ids.push(id);
                out.codes.push(code);
            }
        }
        out
    }
}

impl<'de> Deserialize<'de> for RequestStatus {
    /// A map of custom_id → `{"status": "..."}` (a bare status string is taken too); the
    /// keys are copied straight into the list without a string of their own. Anything but
    /// a map reads as an empty list; an entry's odd value as [`MISSING_STATUS`].
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RequestStatus, D::Error> {
        d.deserialize_any(RequestStatusVisitor)
    }
}

struct RequestStatusVisitor;

impl<'de> Visitor<'de> for RequestStatusVisitor {
    type Value = RequestStatus;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map of custom_id to item status")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RequestStatus, A::Error> {
        let n = map.size_hint().unwrap_or(0);
        let mut out = RequestStatus {
            ids: IdList::with_capacity(n, n * 16),
            codes: Vec::with_capacity(n),
            names: Vec::new(),
        };
        let mut codes = HashMap::new();
        while let Some(Key(id)) = map.next_key::<Key>()? {
            let StatusValue(status) = map.next_value()?;
            out.push(&id, status, &mut codes);
        }
        Ok(out.without_repeats())
    }

    ignore_other_shapes!(RequestStatus::default(); str, seq);
}

/// A map key, borrowed from the body when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a custom_id")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// The status of one `request_status` entry: `{"status": "..."}` or a bare string.
struct StatusValue(Option<String>);

impl<'de> Deserialize<'de> for StatusValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StatusValue, D::Error> {
        Ok(StatusValue(match Value::deserialize(d)? {
            Value::Object(mut o) => match o.remove("status") {
                Some(Value::String(s)) => Some(s),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            },
            Value::String(s) => Some(s),
            _ => None,
        }))
    }
}

/// Whether a `request_status` value is final (COMPLETED, FAILED, CANCELLED/CANCELED).
pub fn is_terminal_item_status(status: &str) -> bool {
    ["COMPLETED", "FAILED", "CANCELLED", "CANCELED"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(status))
}

/// The message of an OpenAI-style error envelope (`{"error":{"message":..}}` or a top-level
/// `message`), if the body has one.
pub fn error_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let msg = v
        .get("error")
        .and_then(|e| e.get("message").or(Some(e)))
        .and_then(Value::as_str)
        .or_else(|| v.get("message").and_then(Value::as_str))?;
    Some(msg.chars().take(500).collect())
}

fn lenient_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Scalar::deserialize(d).map(Scalar::int)
}

fn lenient_float<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Scalar::deserialize(d).map(Scalar::float)
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Scalar::deserialize(d).map(Scalar::string)
}

fn lenient_usage<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Usage>, D::Error> {
    Object::deserialize(d).map(|o| o.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_field_types_become_none_instead_of_failing() {
        let r: ResponseObject = serde_json::from_str(
            r#"{"id":"r1","created_at":"1700000000","status":["x"],"usage":"n/a",
                "temperature":"0.5","max_output_tokens":12.0,"extra":{"a":1}}"#,
        )
        .unwrap();
        assert_eq!(r.created_at, Some(1_700_000_000));
        assert_eq!(r.status, None);
        assert!(r.usage.is_none());
        assert_eq!(r.temperature, Some(0.5));
        assert_eq!(r.max_output_tokens, Some(12));
    }

    #[test]
    fn usage_reads_as_through_a_value_map() {
        let usage = |json: &str| {
            serde_json::from_str::<ResponseObject>(&format!(r#"{{"id":"r","usage":{json}}}"#))
                .unwrap()
                .usage
        };
        let u = usage(
            r#"{"input_tokens":"10","input_tokens":11,"output_tokens":3.0,"total_tokens":null,
                "input_tokens_details":{"cached_tokens":"2","reasoning_tokens":[0],"x":{}},
                "output_tokens_details":"n/a","prompt_tokens":1.5,"completion_tokens":"3 ",
                "extra":{"deep":[1,{"a":"b"}]}}"#,
        )
        .unwrap();
        assert_eq!(
            u,
            Usage {
                input_tokens: Some(11),
                input_tokens_details: Some(Details {
                    cached_tokens: Some(2),
                    reasoning_tokens: None
                }),
                output_tokens: Some(3),
                output_tokens_details: None,
                total_tokens: None,
                prompt_tokens: None,
                completion_tokens: Some(3),
            }
        );
        let u = usage(r#"{"input_tokens_details":{"cached_tokens":1},"input_tokens_details":{}}"#);
        assert_eq!(u.unwrap().input_tokens_details, Some(Details::default()));
        assert_eq!(usage("{}"), Some(Usage::default()));
        for odd in ["null", "[1]", "\"x\"", "3", "false"] {
            assert_eq!(usage(odd), None, "{odd}");
        }
        let bad = br#"{"id":"r","usage":{"input_tokens":1,"note":"\ud800"}}"#;
        assert!(serde_json::from_slice::<ResponseObject>(bad).is_err());
    }

    #[test]
    fn a_response_reads_the_same_from_text_and_from_a_value() {
        let text = r#"{"id":"r","object":"response","created_at":1.0,"status":"completed",
            "model":7,"metadata":{"b":1,"a":"x"},"temperature":"0.25","top_p":1,
            "output":[{"type":"message","content":[{"type":"output_text","text":"hi"}]}],
            "usage":{"input_tokens":5,"output_tokens_details":{"reasoning_tokens":"2"}},
            "max_output_tokens":"64","error":null}"#;
        let a: ResponseObject = serde_json::from_str(text).unwrap();
        let v: Value = serde_json::from_str(text).unwrap();
        let b: ResponseObject = serde_json::from_value(v).unwrap();
        for r in [&a, &b] {
            assert_eq!(r.created_at, Some(1));
            assert_eq!(r.model.as_deref(), Some("7"));
            assert_eq!(r.temperature, Some(0.25));
            assert_eq!(r.top_p, Some(1.0));
            assert_eq!(r.max_output_tokens, Some(64));
            assert_eq!(r.output_text.as_deref(), Some("hi"));
            assert_eq!(r.usage.as_ref().unwrap().input_tokens, Some(5));
            let out = r.usage.as_ref().unwrap().output_tokens_details.as_ref();
            assert_eq!(out.unwrap().reasoning_tokens, Some(2));
            assert!(r.is_response());
        }
    }

    #[test]
    fn error_envelopes_are_not_responses() {
        let r: ResponseObject =
            serde_json::from_str(r#"{"error":{"message":"nope","type":"x"}}"#).unwrap();
        assert!(!r.is_response());
        assert_eq!(
            error_message(br#"{"error":{"message":"nope"}}"#).as_deref(),
            Some("nope")
        );
        assert_eq!(
            error_message(br#"{"message":"top"}"#).as_deref(),
            Some("top")
        );
        assert_eq!(error_message(b"<html>"), None);
    }

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
    fn request_status_keeps_order_escapes_and_the_last_of_a_repeated_id() {
        let b: Batch = serde_json::from_str(
            r#"{"id":"b","request_status":{
                "z":{"status":"RUNNING"},"a\"q\u00e9":{"status":"COMPLETED","x":1},
                "m":"FAILED","z":{"status":"COMPLETED"},"n":{"status":7},"o":null}}"#,
        )
        .unwrap();
        let items: Vec<_> = b.item_statuses().collect();
        assert_eq!(
            items,
            [
                ("a\"qé", "COMPLETED"),
                ("m", "FAILED"),
                ("z", "COMPLETED"),
                ("n", "7"),
                ("o", MISSING_STATUS)
            ]
        );
        let mut unfinished: Vec<_> = b.unfinished().into_iter().collect();
        unfinished.sort();
        assert_eq!(unfinished, [("n", "7"), ("o", MISSING_STATUS)]);
        assert_eq!(b.request_status.unwrap().len(), 5);
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

    #[test]
    fn item_status_terminality() {
        assert!(is_terminal_item_status("COMPLETED"));
        assert!(is_terminal_item_status("cancelled"));
        assert!(!is_terminal_item_status("RUNNING"));
        assert!(!is_terminal_item_status("EXPIRED_SOMEDAY"));
    }
}
