//! A batch's `request_status` (custom_id → item status), read straight into a compact
//! list: no map node and no string of its own per item.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::api::lenient::ignore_other_shapes;
use crate::ids::IdList;

/// The status recorded for a `request_status` entry that has no status string.
pub(crate) const MISSING_STATUS: &str = "(none)";

/// `request_status`, held compactly: the custom_ids in one [`IdList`] and, per id, the
/// index of its status among the distinct status strings met. 100,000 items cost about
/// 2 MB in a few blocks, not a map node and a string each. A custom_id listed twice keeps its last status, as a JSON object would.
#[derive(Debug, Default, Clone)]
pub(crate) struct RequestStatus {
    ids: IdList,
    codes: Vec<u32>,
    names: Vec<String>,
}

impl RequestStatus {
    /// How many items are listed.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// `(custom_id, status)` of every item, in the order the API gave them.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.ids
            .iter()
            .zip(&self.codes)
            .map(|(id, &c)| (id, self.names[c as usize].as_ref()))
    }

    /// Takes out the custom_ids (the statuses are dropped).
    pub(crate) fn into_ids(self) -> IdList {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::model::Batch;

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
        // z's earlier RUNNING was replaced; "7" and a missing status are not in-flight
        // statuses, so they count as finished (the rule is `status::is_terminal`).
        assert!(b.unfinished().is_empty(), "{:?}", b.unfinished());
        assert_eq!(b.request_status.unwrap().len(), 5);
    }
}
