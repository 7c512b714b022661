//! Lenient reading without a `serde_json::Value` tree: scalars taken as number or string
//! (anything else is `None`), objects read field by field, and skipped values checked as
//! strictly as a `Value` would check them, so a body is accepted or rejected exactly as when
//! each field went through a `Value`.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Number;

#[path = "lenient_int.rs"]
mod int;
pub use int::Lenient;

/// One JSON value seen as a scalar: a number, a string (borrowed from the body when it has no
/// escapes), or anything else (null, a boolean, an array, an object), which is read and
/// dropped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'de> {
    /// A number, as a `Value` would hold it.
    Number(Number),
    /// A string.
    Str(Cow<'de, str>),
    /// Null, a boolean, an array or an object.
    Other,
}

impl Scalar<'_> {
    /// An integer by the rules of [`Lenient<i64>`]: a number that is exactly an integer in
    /// `i64` range, or a string of optionally signed decimal digits; never rounded or
    /// clamped. A float is judged by its shortest text, which is as exact as a number
    /// already read can be; counts that are stored are read from the body's text instead.
    pub(crate) fn int(self) -> Option<i64> {
        match self {
            Scalar::Number(n) if n.is_f64() => int::decimal(&n.to_string()).value(),
            Scalar::Number(n) => n.as_i64(),
            Scalar::Str(s) => int::digits(&s).value(),
            Scalar::Other => None,
        }
    }

    /// A float: any number, or a string holding one (surrounding whitespace allowed).
    pub(crate) fn float(self) -> Option<f64> {
        match self {
            Scalar::Number(n) => n.as_f64(),
            Scalar::Str(s) => s.trim().parse().ok(),
            Scalar::Other => None,
        }
    }

    /// A string as given, or a number as `serde_json` prints it.
    pub(crate) fn string(self) -> Option<String> {
        match self {
            Scalar::Number(n) => Some(n.to_string()),
            Scalar::Str(s) => Some(s.into_owned()),
            Scalar::Other => None,
        }
    }

    /// Whether this is the string `s`.
    pub(crate) fn is_str(&self, s: &str) -> bool {
        matches!(self, Scalar::Str(t) if t == s)
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Scalar<'de>, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar<'de>, E> {
        // A `Value` holds a non-finite float (never in JSON text) as null.
        Ok(Number::from_f64(v).map_or(Scalar::Other, Scalar::Number))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Other)
    }

    fn visit_none<E: de::Error>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Other)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar<'de>, D::Error> {
        Scalar::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar<'de>, A::Error> {
        Skip::drain_seq(seq).map(|_| Scalar::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar<'de>, A::Error> {
        Skip::drain_map(map).map(|_| Scalar::Other)
    }
}

/// Any JSON value, read and dropped. Unlike `serde::de::IgnoredAny`, which `serde_json`
/// skips over without looking inside, every string is still checked for valid UTF-8 and
/// escapes, every number for range, and nesting against the recursion limit, as building
/// a `Value` does: skipping a field never lets through a body that was rejected before.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Skip;

impl Skip {
    /// Reads the rest of a sequence.
    pub(crate) fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }

    /// Reads the rest of a map.
    pub(crate) fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Skip, D::Error> {
        d.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_none<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Skip, D::Error> {
        Skip::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Skip, A::Error> {
        Skip::drain_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Skip, A::Error> {
        Skip::drain_map(map)
    }
}

/// Implements the visitor methods of a visitor (or seed) that reads nothing from a value of
/// the wrong shape: each gives `$out`, scalars as they come, and the listed `str`, `seq`
/// or `map` shapes too, arrays and maps read through with [`Skip`].
macro_rules! ignore_other_shapes {
    ($out:expr; $($skip:ident),*) => {
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        $(ignore_other_shapes!(@$skip $out);)*
    };
    (@str $out:expr) => {
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($out)
        }
    };
    (@seq $out:expr) => {
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            $crate::api::lenient::Skip::drain_seq(seq).map(|_| $out)
        }
    };
    (@map $out:expr) => {
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            $crate::api::lenient::Skip::drain_map(map).map(|_| $out)
        }
    };
}
pub(crate) use ignore_other_shapes;

/// A map key matched against the field names a reader knows: the matching name, or `None`
/// for any other key. Escapes are decoded first and nothing is allocated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field(pub &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Field {
    type Value = Option<&'static str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<&'static str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for Field {
    type Value = Option<&'static str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<&'static str>, E> {
        Ok(self.0.iter().copied().find(|name| *name == v))
    }
}

/// A struct read leniently from a JSON object, field by field.
pub(crate) trait Fields: Default {
    /// The keys it reads; others are skipped.
    const NAMES: &'static [&'static str];

    /// Reads the value of the key `name` (one of [`Fields::NAMES`]). A repeated key is read
    /// again and the last one wins, as in a `Value` map.
    fn read<'de, A: MapAccess<'de>>(&mut self, name: &str, map: &mut A) -> Result<(), A::Error>;
}

/// A lenient object: its fields for a JSON object (whatever they hold), absent for `null`,
/// dropped for any other value.
#[derive(Debug)]
pub(crate) struct Object<T>(pub Lenient<T>);

impl<'de, T: Fields> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Object<T>, D::Error> {
        // `null` (and nothing else) reads as `None` through `Option`.
        let shaped = Option::<Shaped<T>>::deserialize(d)?;
        Ok(Object(shaped.map_or(Lenient::Absent, |s| s.0)))
    }
}

/// A value that is not `null`: an object's fields, or dropped.
struct Shaped<T>(Lenient<T>);

impl<'de, T: Fields> Deserialize<'de> for Shaped<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Shaped<T>, D::Error> {
        d.deserialize_any(ObjectVisitor(PhantomData))
    }
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Fields> Visitor<'de> for ObjectVisitor<T> {
    type Value = Shaped<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shaped<T>, A::Error> {
        let mut out = T::default();
        while let Some(key) = map.next_key_seed(Field(T::NAMES))? {
            match key {
                Some(name) => out.read(name, &mut map)?,
                None => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(Shaped(Lenient::Value(out)))
    }

    ignore_other_shapes!(Shaped(Lenient::Dropped); str, seq);
}

#[cfg(test)]
#[path = "lenient_tests.rs"]
mod tests;
