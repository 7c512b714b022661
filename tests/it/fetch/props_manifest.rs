//! Property tests of the manifest readers: every format (text, .jsonl, .csv, stdin) reads
//! any bytes without panicking.

use std::io::Write;
use std::process::Stdio;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;

use sail_export::manifest::Manifest;

use super::props::{any_json, config};

/// Bytes a manifest might hold: anything, or lines of ids, JSON objects and CSV fields.
fn manifest_bytes() -> BoxedStrategy<Vec<u8>> {
    let line = prop_oneof![
        "[a-z0-9_-]{0,10}",
        "[ \t#]{0,2}[^\n]{0,12}",
        any_json().prop_map(|v| v.to_string()),
        ".{0,6}".prop_map(|id| serde_json::json!({"custom_id": id}).to_string()),
        "[a-z0-9,\" ]{0,12}",
        Just("custom_id,n".to_owned()),
        Just("\u{feff}custom_id".to_owned()),
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..120),
        prop::collection::vec(line, 0..8).prop_map(|l| l.join("\r\n").into_bytes()),
    ]
    .boxed()
}

#[test]
fn every_manifest_format_reads_any_bytes_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let mut runner = TestRunner::new(config(48));
    runner
        .run(&manifest_bytes(), |bytes| {
            for name in ["m.txt", "m.jsonl", "m.ndjson", "m.csv", "m"] {
                let path = dir.path().join(name);
                std::fs::write(&path, &bytes).unwrap();
                if let Ok(m) = Manifest::read(&path) {
                    let ids: Vec<String> = m.ids.into_iter().collect();
                    prop_assert!(!ids.is_empty());
                    for id in &ids {
                        prop_assert!(!id.is_empty() && id.trim() == id, "{:?}", id);
                    }
                }
            }
            Ok(())
        })
        .unwrap();
}

/// `fetch -m -` reads the manifest from stdin: any bytes give an answer (a manifest error
/// with exit 2, or a run that goes on to the API), never a panic; the same bytes in a file
/// are accepted or refused alike.
#[test]
fn a_manifest_on_stdin_reads_any_bytes_without_panicking() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(wiremock::MockServer::start());
    let base = crate::harness::base(&server);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.sqlite");
    let mut runner = TestRunner::new(config(12));
    runner
        .run(&manifest_bytes(), |bytes| {
            let mut child = std::process::Command::new(crate::harness::bin())
                .args([
                    "fetch",
                    "b",
                    "-m",
                    "-",
                    "--base-url",
                    &base,
                    "--max-retries",
                    "0",
                ])
                .arg("-o")
                .arg(&out)
                .env("SAIL_API_KEY", crate::harness::KEY)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(&bytes).ok();
            let done = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&done.stderr);
            prop_assert!(!stderr.contains("panicked"), "{}", stderr);
            let text = String::from_utf8_lossy(&bytes);
            let as_file = match text
                .trim_start_matches('\u{feff}')
                .trim_start()
                .starts_with('{')
            {
                true => "stdin.jsonl",
                false => "stdin.txt",
            };
            let path = dir.path().join(as_file);
            std::fs::write(&path, &bytes).unwrap();
            let refused = stderr.contains("error: manifest '-'")
                || stderr.contains("error: cannot read the manifest");
            prop_assert_eq!(refused, Manifest::read(&path).is_err(), "{}", stderr);
            if refused {
                prop_assert_eq!(done.status.code(), Some(2));
            }
            Ok(())
        })
        .unwrap();
}
