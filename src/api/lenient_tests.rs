//! Tests of the lenient readers against the rules they had on a `Value` tree.

use super::*;
use serde_json::Value;

/// The rules as they were written against a `Value`: the reference for `Scalar`.
fn float_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn string_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[test]
fn scalars_follow_the_value_rules() {
    for json in [
        "0",
        "-7",
        "12.0",
        "12.5",
        "-0.0",
        "1e3",
        "1.5e300",
        "18446744073709551615",
        "9223372036854775808",
        "123456789012345678901234567890",
        "0.1",
        r#""42""#,
        r#"" 42 ""#,
        r#""4.5""#,
        r#""x""#,
        r#""""#,
        r#""\u0034\u0032""#,
        r#""é\n""#,
        "true",
        "null",
        "[1]",
        r#"{"a":1}"#,
    ] {
        let v: Value = serde_json::from_str(json).unwrap();
        let s = || serde_json::from_str::<Scalar>(json).unwrap();
        assert_eq!(s().float(), float_of(&v), "float {json}");
        assert_eq!(s().string(), string_of(&v), "string {json}");
        let from_value = || Scalar::deserialize(v.clone()).unwrap();
        assert_eq!(from_value().string(), string_of(&v), "{json} from a Value");
    }
}

#[test]
fn strings_without_escapes_are_borrowed() {
    let s: Scalar = serde_json::from_str(r#""plain""#).unwrap();
    assert!(matches!(s, Scalar::Str(Cow::Borrowed("plain"))));
    let s: Scalar = serde_json::from_str(r#""a\"b""#).unwrap();
    assert_eq!(s, Scalar::Str(Cow::Owned("a\"b".to_owned())));
    assert!(s.is_str("a\"b"));
}

#[test]
fn skipping_checks_what_a_value_checks() {
    for json in [
        r#"["\ud800"]"#,
        r#"{"a":"\x"}"#,
        "[1e400]",
        "[1,]",
        r#"{"a" 1}"#,
    ] {
        assert!(serde_json::from_str::<Skip>(json).is_err(), "{json}");
        assert!(serde_json::from_str::<Scalar>(json).is_err(), "{json}");
        assert!(serde_json::from_str::<Value>(json).is_err(), "{json}");
    }
    let bad_utf8 = b"{\"a\":[\"\xff\"]}";
    assert!(serde_json::from_slice::<Skip>(bad_utf8).is_err());
    assert!(serde_json::from_slice::<Value>(bad_utf8).is_err());
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert!(serde_json::from_str::<Skip>(&deep).is_err());
    assert!(serde_json::from_str::<Value>(&deep).is_err());
    let fine = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert!(serde_json::from_str::<Skip>(&fine).is_ok());
}

#[test]
fn fields_match_names_after_decoding_escapes() {
    let key = |json: &str| {
        Field(&["type", "text"]).deserialize(&mut serde_json::Deserializer::from_str(json))
    };
    assert_eq!(key(r#""type""#).unwrap(), Some("type"));
    assert_eq!(key(r#""t\u0065xt""#).unwrap(), Some("text"));
    assert_eq!(key(r#""types""#).unwrap(), None);
}

/// (JSON, the count it holds) under the rule: exactly an integer in i64 range, or dropped.
const COUNTS: &[(&str, Lenient<i64>)] = {
    use Lenient::{Absent, Dropped, Value as V};
    &[
        ("0", V(0)),
        ("-7", V(-7)),
        ("9223372036854775807", V(i64::MAX)),
        ("-9223372036854775808", V(i64::MIN)),
        ("9223372036854775808", Dropped),
        ("-9223372036854775809", Dropped),
        ("18446744073709551616", Dropped),
        ("1180591620717411303424", Dropped),
        ("-1180591620717411303424", Dropped),
        ("123456789012345678901234567890", Dropped),
        ("1.5e300", Dropped),
        ("1e19", Dropped),
        ("9.223372036854775807e18", V(i64::MAX)),
        ("-9.223372036854775808e18", V(i64::MIN)),
        ("12.5", Dropped),
        ("0.1", Dropped),
        ("1e-1", Dropped),
        ("3.0", V(3)),
        ("-0.0", V(0)),
        ("0e99999999999999999999", V(0)),
        ("1e-99999999999999999999", Dropped),
        ("1e3", V(1000)),
        ("1E+3", V(1000)),
        ("2.50e1", V(25)),
        ("1500e-3", Dropped),
        ("15000e-1", V(1500)),
        ("9007199254740993.0", V(9_007_199_254_740_993)),
        ("3.0000000000000000001", Dropped),
        ("true", Dropped),
        ("false", Dropped),
        ("null", Absent),
        (r#""12""#, V(12)),
        (r#""-12""#, V(-12)),
        (r#""+12""#, V(12)),
        (r#""007""#, V(7)),
        (r#""\u0031\u0032""#, V(12)),
        (r#"" 12""#, Dropped),
        (r#""12 ""#, Dropped),
        (r#""1e3""#, Dropped),
        (r#""3.0""#, Dropped),
        (r#""12.5""#, Dropped),
        (r#""9223372036854775808""#, Dropped),
        (r#""""#, Dropped),
        (r#""-""#, Dropped),
        (r#""x""#, Dropped),
        ("[1]", Dropped),
        ("[]", Dropped),
        (r#"{"a":1}"#, Dropped),
        ("{}", Dropped),
    ]
};

#[test]
fn counts_are_exact_integers_or_dropped() {
    for (json, want) in COUNTS {
        let got: Lenient<i64> = serde_json::from_str(json).unwrap();
        assert_eq!(got, *want, "{json}");
        let v: Value = serde_json::from_str(json).unwrap();
        // Through a `Value`, a float is judged by the text the `Value` prints; the others
        // read the same.
        if !matches!(v, Value::Number(ref n) if n.is_f64()) {
            assert_eq!(
                Lenient::<i64>::deserialize(v).unwrap(),
                *want,
                "{json} from a Value"
            );
        }
    }
}

#[test]
fn scalar_int_never_rounds_or_clamps() {
    for (json, want) in COUNTS {
        // A float already parsed is judged by its shortest text: exact up to 15 digits.
        let exact_as_float = !(json.contains(['.', 'e', 'E']) && json.len() > 15);
        let s: Scalar = serde_json::from_str(json).unwrap();
        if exact_as_float {
            assert_eq!(s.int(), want.value(), "Scalar::int of {json}");
        }
    }
}

#[test]
fn counts_reject_what_a_value_rejects() {
    for bad in [
        r#""\ud800""#,
        "1e400",
        "-1e400",
        r#"["\x"]"#,
        "01",
        "1.",
        "-",
        "+1",
        "1e99999999999999999999",
    ] {
        assert!(serde_json::from_str::<Lenient<i64>>(bad).is_err(), "{bad}");
        assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad}");
    }
}
