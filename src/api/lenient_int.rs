//! Counts read exactly: a JSON value becomes an `i64` only when it is exactly an integer in
//! range (an integer, a number with no fraction such as `3.0` or `1e3`, or a string of
//! optionally signed decimal digits). Anything else is dropped, never rounded, clamped,
//! wrapped or taken from a boolean.

use serde::de::{self, Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::Scalar;

/// A field read leniently: its value, nothing (absent or `null`), or a value of another
/// shape that was dropped (the body, kept in `raw_json`, still has it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Lenient<T> {
    /// Absent, or `null`.
    #[default]
    Absent,
    /// The value.
    Value(T),
    /// A value was there but could not be read as this field's type.
    Dropped,
}

impl<T> Lenient<T> {
    /// The value, if there is one.
    pub fn value(self) -> Option<T> {
        match self {
            Lenient::Value(v) => Some(v),
            _ => None,
        }
    }

    /// A reference to the value, if there is one.
    pub fn get(&self) -> Option<&T> {
        match self {
            Lenient::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Whether a value was there and was dropped.
    pub fn is_dropped(&self) -> bool {
        matches!(self, Lenient::Dropped)
    }
}

impl<'de> Deserialize<'de> for Lenient<i64> {
    /// Reads the value's own text (a float such as `9007199254740993.0` would already have
    /// lost digits as an `f64`), so the rule is applied to exactly what the body says. The
    /// text is parsed again only when it is not a plain integer, which also rejects what a
    /// `Value` would (a bad escape, `1e400`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Lenient<i64>, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        exact(raw.get()).map_err(de::Error::custom)
    }
}

/// The count a JSON text holds (see the module doc); an error when it is not valid JSON.
pub(crate) fn exact(json: &str) -> Result<Lenient<i64>, serde_json::Error> {
    let json = json.trim_matches([' ', '\t', '\n', '\r']);
    if let Ok(n) = json.parse::<i64>() {
        // The common case. A JSON text that Rust reads as an i64 is a JSON integer: JSON
        // has no `+` sign and no leading zeros, and the text was checked as JSON before.
        return Ok(Lenient::Value(n));
    }
    if json == "null" {
        return Ok(Lenient::Absent);
    }
    Ok(match serde_json::from_str::<Scalar>(json)? {
        Scalar::Number(_) => decimal(json),
        Scalar::Str(s) => digits(&s),
        Scalar::Other => Lenient::Dropped,
    })
}

/// A string of decimal digits, optionally signed, in range; nothing else (no spaces, no
/// fraction, no exponent).
pub(crate) fn digits(s: &str) -> Lenient<i64> {
    // `i64::from_str` takes exactly an optional sign and one or more ASCII digits.
    s.parse::<i64>().map_or(Lenient::Dropped, Lenient::Value)
}

/// A JSON number's text (`-? int (. frac)? ([eE] [+-]? exp)?`) as an exact integer: its
/// digits times a power of ten, worked out on the digits, never through a float.
pub(crate) fn decimal(text: &str) -> Lenient<i64> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (mantissa, exp) = rest.split_once(['e', 'E']).unwrap_or((rest, "0"));
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if !(int.bytes().chain(frac.bytes())).all(|b| b.is_ascii_digit()) {
        return Lenient::Dropped;
    }
    // An exponent too long for an i64 only matters by its sign: `0e99999999999999999999`
    // is 0, any other digits with it are out of range or a fraction.
    let exp = exp.parse::<i64>().unwrap_or(if exp.starts_with('-') {
        i64::MIN / 2
    } else {
        i64::MAX / 2
    });
    let all: String = int.chars().chain(frac.chars()).collect();
    let significant = all.trim_start_matches('0');
    if significant.is_empty() {
        return Lenient::Value(0);
    }
    let kept = significant.trim_end_matches('0');
    let zeros = (significant.len() - kept.len()) as i64;
    let scale = exp.saturating_sub(frac.len() as i64).saturating_add(zeros);
    // A negative scale leaves a fraction; 19 digits or more is beyond i64 (≈ 9.2e18).
    if scale < 0 || kept.len() as i64 + scale > 19 {
        return Lenient::Dropped;
    }
    let Ok(m) = kept.parse::<i128>() else {
        return Lenient::Dropped;
    };
    let v = m * 10i128.pow(scale as u32);
    i64::try_from(if negative { -v } else { v }).map_or(Lenient::Dropped, Lenient::Value)
}
