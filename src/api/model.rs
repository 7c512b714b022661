//! Serde types mirroring Sail's wire format, lenient by design: unknown fields are ignored,
//! statuses are open strings, and a field of an unexpected type becomes `None`, not an error.
//! This file holds the response object; the batch and its per-item statuses are beside it.

use serde::de::MapAccess;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::lenient::{Fields, Object, Scalar, Skip};
use super::output;

mod batch;
mod request_status;
mod status;

pub(crate) use batch::{batch_list, Batch};
pub(crate) use request_status::RequestStatus;
pub(crate) use status::is_terminal;

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
    pub(crate) fn is_response(&self) -> bool {
        self.object.as_deref() == Some("response")
            || (self.id.is_some()
                && (self.status.is_some() || self.model.is_some() || self.usage.is_some()))
    }
}

/// `usage` of a response; every count optional (absent stays NULL, never 0). Read with
/// `lenient::Fields`: each count as by `lenient_int`, each breakdown as an object or `None`.
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

/// The message of an OpenAI-style error envelope (`{"error":{"message":..}}` or a top-level
/// `message`), if the body has one.
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
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
}
