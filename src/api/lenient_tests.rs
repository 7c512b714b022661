//! Tests of the lenient readers against the rules they had on a `Value` tree.

use super::*;
use serde_json::Value;

/// The rules as they were written against a `Value`: the reference for `Scalar`.
fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

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
        assert_eq!(s().int(), int_of(&v), "int {json}");
        assert_eq!(s().float(), float_of(&v), "float {json}");
        assert_eq!(s().string(), string_of(&v), "string {json}");
        let from_value = || Scalar::deserialize(v.clone()).unwrap();
        assert_eq!(from_value().int(), int_of(&v), "int {json} from a Value");
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
