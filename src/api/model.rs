//! Serde types mirroring Sail's wire format, lenient by design: unknown fields are ignored,
//! statuses are open strings, and a field of an unexpected type becomes `None`, not an error.
//! This file holds the response object; the batch and its per-item statuses are beside it.

use serde::de::MapAccess;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

pub use super::lenient::Lenient;
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
    #[serde(default)]
    pub created_at: Lenient<i64>,
    /// Status string as given (`completed`, `in_progress`, ... or anything new).
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: Option<String>,
    /// Model id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub model: Option<String>,
    /// Token usage.
    #[serde(default, deserialize_with = "lenient_usage")]
    pub usage: Lenient<Usage>,
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
    #[serde(default)]
    pub max_output_tokens: Lenient<i64>,
    /// Sampling temperature.
    #[serde(default, deserialize_with = "lenient_float")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, deserialize_with = "lenient_float")]
    pub top_p: Option<f64>,
}

impl ResponseObject {
    /// A result body as the client reads it: checked whole as UTF-8 once, with SIMD, then
    /// parsed as text (a `from_slice` checks every string on its own, byte by byte, which
    /// cost more than the rest of the parse: `docs/design.md`). `None` for a body that is
    /// not UTF-8, not JSON, or not a response object. The lenient visitors check every
    /// string, skipped ones too, so no body is accepted that was rejected before.
    pub fn parse(body: &[u8]) -> Option<ResponseObject> {
        let text = simdutf8::basic::from_utf8(body).ok()?;
        serde_json::from_str::<ResponseObject>(text)
            .ok()
            .filter(ResponseObject::is_response)
    }

    /// Whether this looks like a response object rather than an error envelope or some
    /// other JSON: `object == "response"`, or an `id` together with a status, model or usage.
    pub(crate) fn is_response(&self) -> bool {
        self.object.as_deref() == Some("response")
            || (self.id.is_some()
                && (self.status.is_some() || self.model.is_some() || self.usage.get().is_some()))
    }

    /// The integer fields whose value was dropped (see [`Lenient`]), as dotted paths in
    /// column order: `created_at`, `usage` (when it is not an object), `usage.input_tokens`,
    /// `usage.input_tokens_details.cached_tokens`, ..., `max_output_tokens`.
    pub fn dropped_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.created_at.is_dropped() {
            out.push("created_at");
        }
        match &self.usage {
            Lenient::Dropped => out.push("usage"),
            Lenient::Value(u) => u.dropped_fields(&mut out),
            Lenient::Absent => {}
        }
        if self.max_output_tokens.is_dropped() {
            out.push("max_output_tokens");
        }
        out
    }
}

/// `usage` of a response; every count optional (absent stays NULL, never 0). Read with
/// `lenient::Fields`: each count exactly or dropped (see [`Lenient`]), each breakdown as an
/// object or dropped.
#[derive(Debug, Default, PartialEq)]
pub struct Usage {
    /// All input tokens, cached ones included.
    pub input_tokens: Lenient<i64>,
    /// Breakdown of input tokens.
    pub input_tokens_details: Lenient<Details>,
    /// All output tokens, reasoning ones included.
    pub output_tokens: Lenient<i64>,
    /// Breakdown of output tokens.
    pub output_tokens_details: Lenient<Details>,
    /// Input + output.
    pub total_tokens: Lenient<i64>,
    /// Chat-Completions-style alias of `input_tokens`.
    pub prompt_tokens: Lenient<i64>,
    /// Chat-Completions-style alias of `output_tokens`.
    pub completion_tokens: Lenient<i64>,
}

impl Usage {
    /// Adds the paths of the dropped counts to `out`, in column order.
    fn dropped_fields(&self, out: &mut Vec<&'static str>) {
        let details = |d: &Lenient<Details>, names: [&'static str; 3], out: &mut Vec<_>| match d {
            Lenient::Dropped => out.push(names[0]),
            Lenient::Value(d) => {
                let counts = [&d.cached_tokens, &d.reasoning_tokens];
                out.extend(
                    names[1..]
                        .iter()
                        .zip(counts)
                        .filter(|(_, c)| c.is_dropped())
                        .map(|(n, _)| *n),
                );
            }
            Lenient::Absent => {}
        };
        let count = |c: &Lenient<i64>, name: &'static str, out: &mut Vec<_>| {
            if c.is_dropped() {
                out.push(name);
            }
        };
        count(&self.input_tokens, "usage.input_tokens", out);
        details(
            &self.input_tokens_details,
            [
                "usage.input_tokens_details",
                "usage.input_tokens_details.cached_tokens",
                "usage.input_tokens_details.reasoning_tokens",
            ],
            out,
        );
        count(&self.output_tokens, "usage.output_tokens", out);
        details(
            &self.output_tokens_details,
            [
                "usage.output_tokens_details",
                "usage.output_tokens_details.cached_tokens",
                "usage.output_tokens_details.reasoning_tokens",
            ],
            out,
        );
        count(&self.total_tokens, "usage.total_tokens", out);
        count(&self.prompt_tokens, "usage.prompt_tokens", out);
        count(&self.completion_tokens, "usage.completion_tokens", out);
    }
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
        let int = |map: &mut A| map.next_value::<Lenient<i64>>();
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
    pub cached_tokens: Lenient<i64>,
    /// Reasoning tokens.
    pub reasoning_tokens: Lenient<i64>,
}

impl Fields for Details {
    const NAMES: &'static [&'static str] = &["cached_tokens", "reasoning_tokens"];

    fn read<'de, A: MapAccess<'de>>(&mut self, name: &str, map: &mut A) -> Result<(), A::Error> {
        let n = map.next_value::<Lenient<i64>>()?;
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

fn lenient_usage<'de, D: Deserializer<'de>>(d: D) -> Result<Lenient<Usage>, D::Error> {
    Object::deserialize(d).map(|o| o.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Lenient::{Absent, Dropped, Value as V};

    #[test]
    fn odd_field_types_become_none_instead_of_failing() {
        let r: ResponseObject = serde_json::from_str(
            r#"{"id":"r1","created_at":"1700000000","status":["x"],"usage":"n/a",
                "temperature":"0.5","max_output_tokens":12.0,"extra":{"a":1}}"#,
        )
        .unwrap();
        assert_eq!(r.created_at, V(1_700_000_000));
        assert_eq!(r.status, None);
        assert_eq!(r.usage, Dropped);
        assert_eq!(r.temperature, Some(0.5));
        assert_eq!(r.max_output_tokens, V(12));
        assert_eq!(r.dropped_fields(), ["usage"]);
    }

    fn usage(json: &str) -> Lenient<Usage> {
        serde_json::from_str::<ResponseObject>(&format!(r#"{{"id":"r","usage":{json}}}"#))
            .unwrap()
            .usage
    }

    #[test]
    fn usage_reads_exact_counts_and_names_what_it_dropped() {
        let text = r#"{"input_tokens":"10","input_tokens":11,"output_tokens":3.0,"total_tokens":null,
                "input_tokens_details":{"cached_tokens":"2","reasoning_tokens":[0],"x":{}},
                "output_tokens_details":"n/a","prompt_tokens":1.5,"completion_tokens":"3 ",
                "extra":{"deep":[1,{"a":"b"}]}}"#;
        let want = Usage {
            input_tokens: V(11),
            input_tokens_details: V(Details {
                cached_tokens: V(2),
                reasoning_tokens: Dropped,
            }),
            output_tokens: V(3),
            output_tokens_details: Dropped,
            total_tokens: Absent,
            prompt_tokens: Dropped,
            completion_tokens: Dropped,
        };
        assert_eq!(usage(text), V(want));
        let r: ResponseObject =
            serde_json::from_str(&format!(r#"{{"id":"r","usage":{text},"created_at":true}}"#))
                .unwrap();
        assert_eq!(
            r.dropped_fields(),
            [
                "created_at",
                "usage.input_tokens_details.reasoning_tokens",
                "usage.output_tokens_details",
                "usage.prompt_tokens",
                "usage.completion_tokens"
            ]
        );
    }

    #[test]
    fn usage_keeps_the_last_of_a_repeated_key_as_a_value_map_does() {
        let u = usage(r#"{"input_tokens_details":{"cached_tokens":1},"input_tokens_details":{}}"#);
        assert_eq!(
            u.value().unwrap().input_tokens_details,
            V(Details::default())
        );
        let u = usage(r#"{"input_tokens":"x","input_tokens":5}"#)
            .value()
            .unwrap();
        assert_eq!(u.input_tokens, V(5));
        let u = usage(r#"{"input_tokens":5,"input_tokens":2.5}"#)
            .value()
            .unwrap();
        assert_eq!(u.input_tokens, Dropped);
        assert_eq!(usage("{}"), V(Usage::default()));
        assert_eq!(usage("null"), Absent);
        for odd in ["[1]", "\"x\"", "3", "false"] {
            assert_eq!(usage(odd), Dropped, "{odd}");
        }
    }

    #[test]
    fn bodies_a_value_rejects_are_rejected() {
        for bad in [
            r#"{"id":"r","usage":{"input_tokens":1,"note":"\ud800"}}"#,
            r#"{"id":"r","usage":{"input_tokens":"\ud800"}}"#,
            r#"{"id":"r","usage":{"input_tokens":1e400}}"#,
            r#"{"id":"r","max_output_tokens":[1,"\x"]}"#,
            r#"{"id":"r","created_at":01}"#,
        ] {
            assert!(
                serde_json::from_str::<ResponseObject>(bad).is_err(),
                "{bad}"
            );
            assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_response_reads_the_same_from_text_and_from_a_value() {
        let text = r#"{"id":"r","object":"response","created_at":1.0,"status":"completed",
            "model":7,"metadata":{"b":1,"a":"x"},"temperature":"0.25","top_p":1,
            "output":[{"type":"message","content":[{"type":"output_text","text":"hi"}]}],
            "usage":{"input_tokens":5,"output_tokens_details":{"reasoning_tokens":"2"},
                     "total_tokens":12.5},
            "max_output_tokens":"64","error":null}"#;
        let a: ResponseObject = serde_json::from_str(text).unwrap();
        let v: Value = serde_json::from_str(text).unwrap();
        let b: ResponseObject = serde_json::from_value(v).unwrap();
        for r in [&a, &b] {
            assert_eq!(r.created_at, V(1));
            assert_eq!(r.model.as_deref(), Some("7"));
            assert_eq!(r.temperature, Some(0.25));
            assert_eq!(r.top_p, Some(1.0));
            assert_eq!(r.max_output_tokens, V(64));
            assert_eq!(r.output_text.as_deref(), Some("hi"));
            let u = r.usage.get().unwrap();
            assert_eq!(u.input_tokens, V(5));
            assert_eq!(u.total_tokens, Dropped);
            let out = u.output_tokens_details.get();
            assert_eq!(out.unwrap().reasoning_tokens, V(2));
            assert!(r.is_response());
            assert_eq!(r.dropped_fields(), ["usage.total_tokens"]);
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
