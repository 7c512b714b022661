//! Manifests in every format, the bad ones, odd ids, and no manifest at all.

use std::process::Stdio;

use serde_json::json;
use tokio::io::AsyncWriteExt;
use wiremock::{MockServer, Request, Respond, ResponseTemplate};

use crate::harness::*;

/// Answers every result path with a completed response naming the id it was asked for
/// (decoded), so tests can see which path each id reached.
struct Echo;

impl Respond for Echo {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let seg = req.url.path().rsplit('/').next().unwrap();
        let id = percent_decode(seg);
        let mut body = completed(&id, 1, 0, 1, 0);
        body["metadata"]["path_segment"] = json!(seg);
        ResponseTemplate::new(200).set_body_json(body)
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

/// What may stand unescaped in a path segment (RFC 3986 unreserved).
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

async fn echo() -> TestApi {
    let server = TestApi::start().await;
    server.get_matching("^/v1/batches/b/[^/]+$", Echo).await;
    server.knows_every_batch().await;
    server
}

/// Fetches with the manifest at `file` (contents `text`); returns output and custom_ids.
async fn fetch_manifest(server: &MockServer, file: &str, text: &[u8]) -> (Output, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join(file);
    std::fs::write(&m, text).unwrap();
    let db = dir.path().join("o.sqlite");
    let out = fetch(server, "b", &m, &db, &[]).await;
    let ids = if db.exists() {
        query(&db, "SELECT custom_id FROM results ORDER BY custom_id")
            .into_iter()
            .map(|r| r["custom_id"].as_str().unwrap().to_owned())
            .collect()
    } else {
        Vec::new()
    };
    (out, ids)
}

#[tokio::test(flavor = "multi_thread")]
async fn text_manifests_skip_comments_and_blanks_and_tolerate_bom_and_crlf() {
    let server = echo().await;
    let (out, ids) = fetch_manifest(
        &server,
        "ids.txt",
        "\u{feff}# my batch\r\nreq-1\r\n\r\n  req-2  \r\nreq-1\r\n".as_bytes(),
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(ids, vec!["req-1", "req-2"]);
    assert!(out.stderr.contains("1 duplicate"), "{}", out.stderr);
    assert_eq!(
        result_requests(&server, "b").await,
        2,
        "a duplicate is fetched once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_submitted_batch_jsonl_is_a_manifest() {
    let server = echo().await;
    let jsonl = concat!(
        r#"{"custom_id": "q-1", "params": {"model": "zai-org/GLM-5.3", "input": "hi"}}"#,
        "\n",
        r#"{"custom_id": "q-2", "params": {"model": "zai-org/GLM-5.3", "input": "yo"}}"#,
        "\n",
    );
    let (out, ids) = fetch_manifest(&server, "batch.jsonl", jsonl.as_bytes()).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(ids, vec!["q-1", "q-2"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_csv_with_a_custom_id_column_is_a_manifest() {
    let server = echo().await;
    let (out, ids) = fetch_manifest(
        &server,
        "ids.csv",
        b"label,custom_id\n\"a, b\",c-1\nx,c-2\n",
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(ids, vec!["c-1", "c-2"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manifest_can_come_from_stdin() {
    let server = echo().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("o.sqlite");
    let base = base(&server);
    let mut cmd = command(&[
        "fetch",
        "b",
        "-m",
        "-",
        "-o",
        db.to_str().unwrap(),
        "--base-url",
        &base,
    ]);
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"s-1\ns-2\n").await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(query(&db, "SELECT COUNT(*) AS n FROM results")[0]["n"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_manifests_exit_2_naming_the_file_and_line() {
    let server = echo().await;
    let cases: &[(&str, &[u8], &[&str])] = &[
        (
            "empty.txt",
            b"# nothing here\n\n",
            &["empty.txt", "no custom_ids"],
        ),
        (
            "bad.jsonl",
            b"{\"custom_id\":\"a\"}\n{\"custom_id\":\"b\"\n",
            &["bad.jsonl", "line 2"],
        ),
        (
            "nokey.jsonl",
            b"{\"custom_id\":\"a\"}\n\n{\"id\":\"b\"}\n",
            &["line 3", "custom_id"],
        ),
        ("nocol.csv", b"id,label\n1,x\n", &["nocol.csv", "custom_id"]),
        (
            "binary.txt",
            &[0xff, 0xfe, 0x00, 0x41],
            &["binary.txt", "UTF-8"],
        ),
    ];
    for (file, text, needles) in cases {
        let (out, ids) = fetch_manifest(&server, file, text).await;
        assert_eq!(out.code, 2, "{file}: {out:?}");
        for n in *needles {
            assert!(
                out.stderr.contains(n),
                "{file}: stderr lacks '{n}': {}",
                out.stderr
            );
        }
        assert!(ids.is_empty(), "{file}");
    }
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.txt");
    let out = fetch(&server, "b", &missing, &dir.path().join("o.sqlite"), &[]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("missing.txt") && out.stderr.contains("--manifest"),
        "{}",
        out.stderr
    );
    assert_eq!(
        result_requests(&server, "b").await,
        0,
        "nothing is fetched for a bad manifest"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn odd_ids_are_warned_about_and_reach_exactly_their_own_path() {
    let server = echo().await;
    let odd = [
        "ok-1", "a/b", "x?y=1", "p#q", "50%", "sp ace", "Ünï", "../etc",
    ];
    let (out, ids) = fetch_manifest(&server, "ids.txt", odd.join("\n").as_bytes()).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("lines 2, 3, 4, 5, 6, 7, 8"),
        "{}",
        out.stderr
    );
    let mut want: Vec<String> = odd.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(ids, want);
    for id in odd {
        let seg = percent_encoding::utf8_percent_encode(id, UNRESERVED).to_string();
        assert_eq!(
            requests_to(&server, &format!("/v1/batches/b/{seg}")).await,
            1,
            "{id} → {seg}"
        );
    }
    assert_eq!(result_requests(&server, "b").await, odd.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_id_that_cannot_be_one_path_segment_is_an_error_row_not_a_request() {
    let server = echo().await;
    let (out, ids) = fetch_manifest(&server, "ids.txt", b"..\nfine\n").await;
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(ids, vec!["..", "fine"]);
    assert_eq!(result_requests(&server, "b").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_manifest_the_ids_come_from_the_batch_status() {
    let server = echo().await;
    let status = json!({
        "id": "b", "created_at": 1_764_000_000, "request_counts": 2,
        "request_status": {"m-1": {"status": "COMPLETED"}, "m-2": {"status": "FAILED"}}
    });
    server.batch("b", status).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("o.sqlite");
    let out = run(&[
        "fetch",
        "b",
        "-o",
        db.to_str().unwrap(),
        "--base-url",
        &base(&server),
    ])
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    let rows = query(&db, "SELECT custom_id FROM results ORDER BY custom_id");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["custom_id"], "m-2");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_output_is_named_after_the_batch() {
    let server = echo().await;
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["d-1"]);
    let mut cmd = command(&[
        "fetch",
        "b",
        "-m",
        m.to_str().unwrap(),
        "--base-url",
        &base(&server),
    ]);
    cmd.current_dir(dir.path());
    let out = output(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(dir.path().join("b.sqlite").exists());
}
