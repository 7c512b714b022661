//! Property tests of the response parser: over arbitrary JSON it never fails on valid JSON,
//! never panics on any bytes, and stores an integer only where the body had exactly that
//! integer. Case counts stay small so the suite stays fast; `PROPTEST_CASES` raises them for
//! a longer run.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

use sail_export::api::model::ResponseObject;
use sail_export::row::Row;

/// Cases per property, unless `PROPTEST_CASES` says otherwise.
pub(crate) fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Any JSON value (numbers as a `Value` holds them), a few levels deep.
pub(crate) fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        "[+-]?[0-9]{1,22}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A JSON number's text from its parts: digits that may overflow any integer type, a
/// fraction, an exponent (kept small enough for every reader to accept).
fn number_text() -> BoxedStrategy<String> {
    (
        any::<bool>(),
        "0|[1-9][0-9]{0,24}",
        prop::option::of("[0-9]{1,6}"),
        prop::option::of(("[eE]", "[+-]?", -24i32..24)),
    )
        .prop_map(|(neg, int, frac, exp)| {
            let mut t = format!("{}{int}", if neg { "-" } else { "" });
            if let Some(f) = frac {
                t += &format!(".{f}");
            }
            if let Some((e, sign, n)) = exp {
                let sign = if n < 0 { "-" } else { sign.as_str() };
                t += &format!("{e}{sign}{}", n.unsigned_abs());
            }
            t
        })
        .boxed()
}

/// JSON text for an integer field: exact integers written every way JSON allows, numbers of
/// any shape, digit strings, and any other value.
fn count_text() -> BoxedStrategy<String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (any::<i64>(), 0..4usize).prop_map(|(n, z)| format!("{n}.{}", "0".repeat(z + 1))),
        (any::<i32>(), 0..9u32).prop_map(|(n, k)| format!("{n}e{k}")),
        any::<i64>().prop_map(|n| format!("\"{n}\"")),
        number_text(),
        any_json().prop_map(|v| v.to_string()),
    ]
    .boxed()
}

/// What an integer field's JSON text must store, worked out on the decimal text: the value
/// with its point moved by the exponent, an integer only if no non-zero digit follows the
/// point, in range only if it fits i64. `None` inside: dropped; outer `None`: `null`.
fn expected(text: &str) -> Option<Option<i64>> {
    match text.as_bytes()[0] {
        b'n' => None,
        b'"' => {
            let s: String = serde_json::from_str(text).unwrap();
            let (neg, digits) = match s.as_bytes().first() {
                Some(b'-') => (true, &s[1..]),
                Some(b'+') => (false, &s[1..]),
                _ => (false, s.as_str()),
            };
            let ok = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
            Some(if ok { in_range(neg, digits) } else { None })
        }
        b'-' | b'0'..=b'9' => Some(number(text)),
        _ => Some(None),
    }
}

fn number(text: &str) -> Option<i64> {
    let (neg, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (mantissa, exp) = rest.split_once(['e', 'E']).unwrap_or((rest, "0"));
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    let point = int.len() as i64 + exp.parse::<i64>().unwrap();
    let (whole, fraction) = if point <= 0 {
        (String::new(), digits.clone())
    } else if point as usize >= digits.len() {
        let pad = point as usize - digits.len();
        if pad > 40 && digits.bytes().any(|b| b != b'0') {
            return None;
        }
        (format!("{digits}{}", "0".repeat(pad)), String::new())
    } else {
        (
            digits[..point as usize].to_owned(),
            digits[point as usize..].to_owned(),
        )
    };
    if fraction.bytes().any(|b| b != b'0') {
        return None;
    }
    in_range(neg, if whole.is_empty() { "0" } else { &whole })
}

/// Decimal digits (leading zeros allowed) with a sign, if they fit i64.
fn in_range(neg: bool, digits: &str) -> Option<i64> {
    let d = digits.trim_start_matches('0');
    let limit = if neg {
        "9223372036854775808"
    } else {
        "9223372036854775807"
    };
    if d.len() > 19 || (d.len() == 19 && d > limit) {
        return None;
    }
    let sign = if neg { "-" } else { "" };
    Some(
        format!("{sign}{}", if d.is_empty() { "0" } else { d })
            .parse()
            .unwrap(),
    )
}

/// A JSON object's text from its members' texts, `None` members left out.
fn object(members: &[(&str, Option<String>)]) -> String {
    let inner: Vec<String> = members
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("\"{k}\":{v}")))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// A value that is not an object, as a breakdown or `usage` might wrongly be.
fn not_object() -> BoxedStrategy<String> {
    any_json()
        .prop_filter("not an object", |v| !v.is_object())
        .prop_map(|v| v.to_string())
        .boxed()
}

/// `*_tokens_details`: an object of counts (and other keys), or some other value.
fn details() -> BoxedStrategy<String> {
    prop_oneof![
        3 => (prop::option::of(count_text()), prop::option::of(count_text()), prop::option::of(any_json()))
            .prop_map(|(c, r, x)| object(&[
                ("cached_tokens", c),
                ("reasoning_tokens", r),
                ("other", x.map(|v| v.to_string())),
            ])),
        1 => not_object(),
    ]
    .boxed()
}

const USAGE_COUNTS: [&str; 5] = [
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
];

/// `usage`: an object of counts and breakdowns, or some other value.
fn usage() -> BoxedStrategy<String> {
    prop_oneof![
        4 => (
            prop::array::uniform5(prop::option::of(count_text())),
            prop::option::of(details()),
            prop::option::of(details()),
        )
            .prop_map(|(counts, i, o)| {
                let mut m: Vec<(&str, Option<String>)> =
                    USAGE_COUNTS.iter().copied().zip(counts).collect();
                m.push(("input_tokens_details", i));
                m.push(("output_tokens_details", o));
                object(&m)
            }),
        1 => not_object(),
    ]
    .boxed()
}

/// A response body: the integer fields from the strategies above, everything else any JSON.
fn body() -> BoxedStrategy<String> {
    (
        prop::option::of(count_text()),
        prop::option::of(usage()),
        prop::option::of(count_text()),
        prop::collection::vec(any_json(), 6),
    )
        .prop_map(|(created_at, usage, max_out, other)| {
            let o = |i: usize| Some(other[i].to_string());
            object(&[
                ("id", Some("\"r\"".into())),
                ("object", Some("\"response\"".into())),
                ("created_at", created_at),
                ("status", o(0)),
                ("model", o(1)),
                ("usage", usage),
                ("output", o(2)),
                ("metadata", o(3)),
                ("error", o(4)),
                ("max_output_tokens", max_out),
                ("incomplete_details", o(5)),
            ])
        })
        .boxed()
}

/// A member of a JSON object's text as a `Value` holds it (objects only, no numbers
/// needed), and its own text, found by re-reading the object with `RawValue`s.
fn members(text: &str) -> Option<Vec<(String, String)>> {
    let m: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> =
        serde_json::from_str(text).ok()?;
    Some(
        m.into_iter()
            .map(|(k, v)| (k, v.get().to_owned()))
            .collect(),
    )
}

/// Each integer column the body must give (`column`, JSON path, text at that path).
fn int_fields(body: &str) -> Vec<(&'static str, &'static str, Option<String>)> {
    let top = members(body).unwrap();
    let get =
        |m: &[(String, String)], k: &str| m.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut out = vec![
        ("created_at", "created_at", get(&top, "created_at")),
        (
            "max_output_tokens",
            "max_output_tokens",
            get(&top, "max_output_tokens"),
        ),
    ];
    let usage = get(&top, "usage").and_then(|u| members(&u));
    let u = usage.as_deref().unwrap_or(&[]);
    for (col, path, key) in [
        ("input_tokens", "usage.input_tokens", "input_tokens"),
        ("output_tokens", "usage.output_tokens", "output_tokens"),
        ("total_tokens", "usage.total_tokens", "total_tokens"),
        ("prompt_tokens", "usage.prompt_tokens", "prompt_tokens"),
        (
            "completion_tokens",
            "usage.completion_tokens",
            "completion_tokens",
        ),
    ] {
        out.push((col, path, get(u, key)));
    }
    for (side, cached, reasoning, pc, pr) in [
        (
            "input_tokens_details",
            "input_cached_tokens",
            "input_reasoning_tokens",
            "usage.input_tokens_details.cached_tokens",
            "usage.input_tokens_details.reasoning_tokens",
        ),
        (
            "output_tokens_details",
            "output_cached_tokens",
            "output_reasoning_tokens",
            "usage.output_tokens_details.cached_tokens",
            "usage.output_tokens_details.reasoning_tokens",
        ),
    ] {
        let d = get(u, side).and_then(|d| members(&d));
        let d = d.as_deref().unwrap_or(&[]);
        out.push((cached, pc, get(d, "cached_tokens")));
        out.push((reasoning, pr, get(d, "reasoning_tokens")));
    }
    out
}

/// A stored integer column of a row, by name.
fn column(row: &Row, name: &str) -> Option<i64> {
    match name {
        "created_at" => row.created_at,
        "max_output_tokens" => row.max_output_tokens,
        "input_tokens" => row.input_tokens,
        "output_tokens" => row.output_tokens,
        "total_tokens" => row.total_tokens,
        "prompt_tokens" => row.prompt_tokens,
        "completion_tokens" => row.completion_tokens,
        "input_cached_tokens" => row.input_cached_tokens,
        "input_reasoning_tokens" => row.input_reasoning_tokens,
        "output_cached_tokens" => row.output_cached_tokens,
        "output_reasoning_tokens" => row.output_reasoning_tokens,
        _ => unreachable!("{name}"),
    }
}

fn parse(body: &str) -> Row {
    let resp: ResponseObject = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("a valid JSON body is accepted ({e}): {body}"));
    Row::from_response("b", "c", resp, Some(body.to_owned()))
}

#[test]
fn a_stored_count_is_exactly_the_integer_the_body_had_there() {
    let mut runner = TestRunner::new(config(128));
    let result = runner.run(&body(), |body| {
        let row = parse(&body);
        for (col, path, text) in int_fields(&body) {
            let want = text.as_deref().and_then(expected).flatten();
            prop_assert_eq!(column(&row, col), want, "{} ({}) in {}", col, path, body);
            let dropped = text.as_deref().is_some_and(|t| expected(t) == Some(None));
            let named = row
                .dropped_fields
                .as_deref()
                .is_some_and(|d| d.split(',').any(|p| p == path));
            let container_dropped = row.dropped_fields.as_deref().is_some_and(|d| {
                d.split(',')
                    .any(|p| path.starts_with(p) && path.len() > p.len())
            });
            prop_assert!(
                named == dropped || container_dropped,
                "{} named {} but dropped {}: {:?} in {}",
                path,
                named,
                dropped,
                row.dropped_fields,
                body
            );
        }
        prop_assert_eq!(row.raw_json.as_deref(), Some(body.as_str()));
        prop_assert!(row.dropped_fields.as_deref() != Some(""));
        Ok(())
    });
    result.unwrap();
}

#[test]
fn the_response_parser_never_panics_on_any_bytes() {
    let mut runner = TestRunner::new(config(256));
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        // A valid body with a few bytes overwritten.
        (
            body(),
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)
        )
            .prop_map(|(b, edits)| {
                let mut b = b.into_bytes();
                for (i, v) in edits {
                    let at = i.index(b.len());
                    b[at] = v;
                }
                b
            }),
    ];
    runner
        .run(&bytes, |bytes| {
            if let Ok(resp) = serde_json::from_slice::<ResponseObject>(&bytes) {
                let row = Row::from_response("b", "c", resp, None);
                prop_assert!(row.dropped_fields.as_deref() != Some(""));
            }
            Ok(())
        })
        .unwrap();
}
