//! A response's `output` read straight into its SDK-style `output_text`, without a `Value`
//! tree: the text pieces are appended to one string as they are met, and whatever turns out
//! not to count (a later key of the same name wins, and an item's `type` may come after its
//! content) is cut off again.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::lenient::{ignore_other_shapes, Field, Scalar, Skip};

/// Deserializes `output` into its `output_text`: a string output as is; otherwise the `text`
/// of every `output_text` part of every `message` item, joined with no separator (an object
/// is taken as a single item). `None` when there is no such part, and for null, booleans and
/// numbers.
pub(crate) fn output_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(OutputVisitor)
}

/// The text gathered so far; `any` tells an empty text (an empty piece was met) from none.
#[derive(Default)]
struct Text {
    buf: String,
    any: bool,
}

/// Where a [`Text`] stood, to cut back to.
#[derive(Clone, Copy)]
struct Mark {
    len: usize,
    any: bool,
}

impl Text {
    fn push(&mut self, piece: &str) {
        self.buf.push_str(piece);
        self.any = true;
    }

    fn mark(&self) -> Mark {
        Mark {
            len: self.buf.len(),
            any: self.any,
        }
    }

    fn cut_back(&mut self, to: Mark) {
        self.buf.truncate(to.len);
        self.any = to.any;
    }

    fn finish(self) -> Option<String> {
        self.any.then_some(self.buf)
    }
}

struct OutputVisitor;

impl<'de> Visitor<'de> for OutputVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<String>, E> {
        Ok(Some(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Option<String>, E> {
        Ok(Some(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<String>, A::Error> {
        let mut text = Text::default();
        while seq.next_element_seed(Item(&mut text))?.is_some() {}
        Ok(text.finish())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<String>, A::Error> {
        let mut text = Text::default();
        Item(&mut text).visit_map(map)?;
        Ok(text.finish())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        output_text(d)
    }
}

/// One output item: only a `message` item's `content` counts.
struct Item<'a>(&'a mut Text);

impl<'de> DeserializeSeed<'de> for Item<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Item<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an output item")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let start = self.0.mark();
        let mut message = false;
        while let Some(key) = map.next_key_seed(Field(&["type", "content"]))? {
            match key {
                Some("type") => message = map.next_value::<Scalar>()?.is_str("message"),
                Some(_) => {
                    self.0.cut_back(start);
                    map.next_value_seed(Content(self.0))?;
                }
                None => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        if !message {
            self.0.cut_back(start);
        }
        Ok(())
    }

    ignore_other_shapes!((); str, seq);
}

/// A message's `content`: a string, or parts of which only `output_text` ones count.
struct Content<'a>(&'a mut Text);

impl<'de> DeserializeSeed<'de> for Content<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Content<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("message content")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.push(v);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Part(self.0))?.is_some() {}
        Ok(())
    }

    ignore_other_shapes!((); map);
}

/// One content part: its `text` counts when the part is of type `output_text`.
struct Part<'a>(&'a mut Text);

impl<'de> DeserializeSeed<'de> for Part<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Part<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a content part")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let start = self.0.mark();
        let (mut output_text, mut has_text) = (false, false);
        while let Some(key) = map.next_key_seed(Field(&["type", "text"]))? {
            match key {
                Some("type") => output_text = map.next_value::<Scalar>()?.is_str("output_text"),
                Some(_) => {
                    self.0.cut_back(start);
                    has_text = map.next_value_seed(Piece(self.0))?;
                }
                None => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        if !(output_text && has_text) {
            self.0.cut_back(start);
        }
        Ok(())
    }

    ignore_other_shapes!((); str, seq);
}

/// A part's `text`: appended when it is a string (then `true`).
struct Piece<'a>(&'a mut Text);

impl<'de> DeserializeSeed<'de> for Piece<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Piece<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a text piece")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        self.0.push(v);
        Ok(true)
    }

    ignore_other_shapes!(false; seq, map);
}

#[cfg(test)]
#[path = "output_tests.rs"]
mod tests;
