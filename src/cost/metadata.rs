//! `--by metadata.KEY`: the value of a key of a request's metadata (`metadata_json`) as
//! the text a report groups by.
//!
//! A string is itself; a number or a boolean is its JSON text (`3`, `0.5`, `true`); an
//! object or an array is its compact JSON text, keys sorted (`{"a":1,"b":[2]}`). A row
//! without metadata, without the key, or with `null` there has no value: `(none)` in a
//! table. `a.b` is the key `a.b` when the metadata has one, else key `b` of the object at
//! key `a` (and so on down).

use serde_json::Value;

/// The value at `path` in `meta`: the top-level key named `path` when there is one, else
/// the dotted path followed down through objects.
fn lookup<'a>(meta: &'a Value, path: &str) -> Option<&'a Value> {
    let obj = meta.as_object()?;
    if let Some(v) = obj.get(path) {
        return Some(v);
    }
    let mut at = meta;
    for part in path.split('.') {
        at = at.as_object()?.get(part)?;
    }
    Some(at)
}

/// The text a value groups by (see the module's doc); `None` for `null`.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The values of `paths` in a row's `metadata_json` (`None` each: no metadata, not JSON,
/// no such key, or `null`).
pub(crate) fn values(metadata_json: Option<&[u8]>, paths: &[String]) -> Vec<Option<String>> {
    let meta = metadata_json.and_then(|j| serde_json::from_slice::<Value>(j).ok());
    paths
        .iter()
        .map(|p| meta.as_ref().and_then(|m| lookup(m, p)).and_then(text))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(json: &str, path: &str) -> Option<String> {
        values(Some(json.as_bytes()), &[path.to_owned()]).remove(0)
    }

    #[test]
    fn strings_are_themselves_and_other_values_their_json_text() {
        let m =
            r#"{"job":"eval","n":3,"x":0.5,"ok":true,"tags":["a",1],"o":{"b":2,"a":1},"z":null}"#;
        assert_eq!(one(m, "job").as_deref(), Some("eval"));
        assert_eq!(one(m, "n").as_deref(), Some("3"));
        assert_eq!(one(m, "x").as_deref(), Some("0.5"));
        assert_eq!(one(m, "ok").as_deref(), Some("true"));
        assert_eq!(one(m, "tags").as_deref(), Some(r#"["a",1]"#));
        assert_eq!(one(m, "o").as_deref(), Some(r#"{"a":1,"b":2}"#));
        assert_eq!(one(m, "z"), None);
        assert_eq!(one(m, "missing"), None);
    }

    #[test]
    fn a_dotted_key_is_the_key_itself_first_then_a_path_down() {
        let m = r#"{"run":{"id":"r1","deep":{"k":7}},"a.b":"flat"}"#;
        assert_eq!(one(m, "run.id").as_deref(), Some("r1"));
        assert_eq!(one(m, "run.deep.k").as_deref(), Some("7"));
        assert_eq!(one(m, "a.b").as_deref(), Some("flat"));
        assert_eq!(one(m, "run.nope"), None);
        assert_eq!(one(m, "run.id.more"), None);
    }

    #[test]
    fn rows_without_metadata_or_with_bad_json_have_no_value() {
        assert_eq!(values(None, &["a".into()]), [None]);
        assert_eq!(values(Some(b"not json"), &["a".into()]), [None]);
        assert_eq!(values(Some(b"[1,2]"), &["a".into()]), [None]);
    }
}
