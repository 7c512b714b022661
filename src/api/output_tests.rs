//! Tests of the streaming `output_text` reader against the rules it had on a `Value` tree.

use serde_json::Value;

/// What `output_text` computed from a `Value` tree before it was read while parsing:
/// the reference the streaming reader must match for every shape.
fn from_value(output: &Value) -> Option<String> {
    let items: &[Value] = match output {
        Value::String(s) => return Some(s.clone()),
        Value::Array(items) => items,
        Value::Object(_) => std::slice::from_ref(output),
        _ => return None,
    };
    let mut text: Option<String> = None;
    for item in items {
        if item.get("type").and_then(Value::as_str) != Some("message") {
            continue;
        }
        match item.get("content") {
            Some(Value::String(s)) => text.get_or_insert_with(String::new).push_str(s),
            Some(Value::Array(parts)) => {
                for part in parts {
                    if part.get("type").and_then(Value::as_str) == Some("output_text") {
                        if let Some(t) = part.get("text").and_then(Value::as_str) {
                            text.get_or_insert_with(String::new).push_str(t);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    text
}

/// The streaming reader on JSON text, the whole text consumed.
fn parse(json: &str) -> serde_json::Result<Option<String>> {
    let mut de = serde_json::Deserializer::from_str(json);
    let text = super::output_text(&mut de)?;
    de.end()?;
    Ok(text)
}

/// Parses `json` both ways and checks they agree (both failing counts as agreeing).
fn agree(json: &str) -> Option<String> {
    let streamed = parse(json);
    match serde_json::from_str::<Value>(json) {
        Ok(v) => {
            let want = from_value(&v);
            assert_eq!(streamed.as_ref().ok(), Some(&want), "{json}");
            // Through a `Value` deserializer too (what `from_value` callers use).
            let via_value = super::output_text(v).unwrap();
            assert_eq!(via_value, want, "{json} (from a Value)");
            want
        }
        Err(e) => {
            assert!(
                streamed.is_err(),
                "{json}: a Value rejects it ({e}), so must we"
            );
            None
        }
    }
}

#[test]
fn message_parts_are_joined_and_reasoning_and_tools_skipped() {
    let got = agree(
        r#"[
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thinking"}],
         "content": [{"type": "reasoning_text", "text": "secret"}]},
        {"type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": "Hello, ", "annotations": []},
            {"type": "refusal", "refusal": "no"},
            {"type": "output_text", "text": "w\u00f6rld \"q\"\n\ud83d\ude00 ✓"}
        ]},
        {"type": "function_call", "name": "f", "arguments": "{}"},
        {"type": "message", "content": [{"type": "output_text", "text": "!"}]}
    ]"#,
    );
    assert_eq!(got.as_deref(), Some("Hello, wörld \"q\"\n😀 ✓!"));
}

#[test]
fn every_output_shape_reads_as_before() {
    let cases = [
        // Scalars: a string as is (empty included), anything else none.
        (r#""plain""#, Some("plain")),
        (r#""""#, Some("")),
        (r#""esc\u00e9\n""#, Some("esc\u{e9}\n")),
        ("null", None),
        ("true", None),
        ("12", None),
        ("-1.5", None),
        ("[]", None),
        ("{}", None),
        // An object is one item.
        (
            r#"{"type":"message","content":[{"type":"output_text","text":"x"}]}"#,
            Some("x"),
        ),
        // Items that are not messages, or not objects.
        (r#"[{"type":"reasoning"}]"#, None),
        (
            r#"[1, "s", null, [{"type":"message","content":"in array"}]]"#,
            None,
        ),
        (r#"[{"type":"Message","content":"case matters"}]"#, None),
        (r#"[{"type":["message"],"content":"typed oddly"}]"#, None),
        (r#"[{"content":"no type"}]"#, None),
        // Content as a string, empty string, or other shapes.
        (r#"[{"type":"message","content":"whole"}]"#, Some("whole")),
        (r#"[{"type":"message","content":""}]"#, Some("")),
        (r#"[{"type":"message","content":null}]"#, None),
        (r#"[{"type":"message","content":{"text":"obj"}}]"#, None),
        (r#"[{"type":"message","content":7}]"#, None),
        (r#"[{"type":"message"}]"#, None),
        // Parts: only output_text with a string text.
        (
            r#"[{"type":"message","content":[{"type":"output_text","text":""}]}]"#,
            Some(""),
        ),
        (
            r#"[{"type":"message","content":[{"type":"output_text","text":5}]}]"#,
            None,
        ),
        (
            r#"[{"type":"message","content":[{"type":"output_text"}]}]"#,
            None,
        ),
        (
            r#"[{"type":"message","content":[{"text":"untyped"}, "bare", 3, null]}]"#,
            None,
        ),
        (
            r#"[{"type":"message","content":[{"type":"refusal","text":"no"},
                {"type":"output_text","text":"yes"}]}]"#,
            Some("yes"),
        ),
        // The type may come after the content or the text.
        (
            r#"[{"content":[{"text":"late","type":"output_text"}],"type":"message"}]"#,
            Some("late"),
        ),
        (
            r#"[{"content":"a","type":"reasoning"},{"type":"message","content":"b"}]"#,
            Some("b"),
        ),
        (
            r#"[{"type":"message","content":"a"},{"content":"gone","type":"tool"}]"#,
            Some("a"),
        ),
        (r#"[{"content":"","type":"function_call"}]"#, None),
        // A repeated key: the last one wins, as in a Value map.
        (
            r#"[{"type":"message","type":"reasoning","content":"x"}]"#,
            None,
        ),
        (
            r#"[{"type":"reasoning","content":"x","type":"message"}]"#,
            Some("x"),
        ),
        (
            r#"[{"type":"message","content":"first","content":"second"}]"#,
            Some("second"),
        ),
        (
            r#"[{"type":"message","content":"first","content":null}]"#,
            None,
        ),
        (
            r#"[{"type":"message","content":"keep"},
                {"type":"message","content":"first","content":[]}]"#,
            Some("keep"),
        ),
        (
            r#"[{"type":"message","content":[
                {"type":"output_text","text":"one","text":"two"},
                {"type":"output_text","text":"three","text":null},
                {"type":"output_text","type":"refusal","text":"four"},
                {"text":"five","type":"refusal","type":"output_text"}]}]"#,
            Some("twofive"),
        ),
        // Escaped keys are decoded before they are matched.
        (
            r#"[{"t\u0079pe":"message","content":[{"type":"output\u005ftext","te\u0078t":"k"}]}]"#,
            Some("k"),
        ),
    ];
    for (json, want) in cases {
        assert_eq!(agree(json).as_deref(), want, "{json}");
    }
}

#[test]
fn bodies_a_value_rejects_are_still_rejected() {
    // Invalid in places the reader skips: a lone surrogate, a bad escape, a number out
    // of range, nesting past the recursion limit, broken syntax.
    let deep = format!("[{}{}]", "[".repeat(200), "]".repeat(200));
    let deep_item = format!(
        r#"[{{"type":"message","x":{}{}}}]"#,
        "{\"a\":".repeat(200),
        "1".to_owned() + &"}".repeat(200)
    );
    for json in [
        r#"[{"type":"message","id":"\ud800","content":"x"}]"#,
        r#"[{"type":"reasoning","summary":[{"text":"\q"}]}]"#,
        r#"[{"type":"message","content":[{"type":"output_text","text":"x","n":1e400}]}]"#,
        r#"[{"type":"message","content":"x"},]"#,
        r#"[{"type":"message" "content":"x"}]"#,
        &deep,
        &deep_item,
    ] {
        assert!(parse(json).is_err(), "{json}");
        assert!(serde_json::from_str::<Value>(json).is_err(), "{json}");
    }
}
