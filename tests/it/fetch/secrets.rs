//! The API key reaches the server and nothing else: no output byte, no log line, no file.

use wiremock::matchers::{header, method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::*;

/// Asserts no file under `dir` contains the key.
fn assert_no_key_in_files(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "the key is stored in {}",
            p.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_key_is_sent_as_bearer_and_appears_in_no_output_log_or_file() {
    let server = TestApi::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/v1/batches/b/ok$"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(completed("ok", 3, 0, 3, 0)))
        .mount(&server)
        .await;
    server.result("b", "slow", refused(503, "0")).await;
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["ok", "slow"]);
    // RUST_LOG=trace is set by the harness: every log line of every crate is checked.
    let out = fetch(
        &server,
        "b",
        &m,
        &dir.path().join("o.sqlite"),
        &["--max-retries", "1"],
    )
    .await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        !out.stderr.is_empty(),
        "trace logging produced output to check"
    );
    assert_no_key_in_files(dir.path());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_key_is_named_but_never_shown() {
    let server = TestApi::start().await;
    let forbidden = api_error(403, "forbidden", "permission_error");
    server.get_any(forbidden).await;
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["a", "b"]);
    let out = fetch(&server, "b", &m, &dir.path().join("o.sqlite"), &[]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("SAIL_API_KEY"), "{}", out.stderr);
    assert_no_key_in_files(dir.path());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_key_can_come_from_a_file_and_a_missing_key_is_a_usage_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header("authorization", "Bearer sk_from_file"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completed("a", 1, 0, 1, 0)))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["a"]);
    let keyfile = dir.path().join("key");
    std::fs::write(&keyfile, "sk_from_file\n").unwrap();
    let db = dir.path().join("o.sqlite");
    let args = [
        "fetch",
        "b",
        "-m",
        m.to_str().unwrap(),
        "-o",
        db.to_str().unwrap(),
        "--base-url",
    ];
    let base = base(&server);
    let mut with_file = args.to_vec();
    with_file.extend([base.as_str(), "--api-key-file", keyfile.to_str().unwrap()]);
    let mut cmd = command(&with_file);
    cmd.env_remove("SAIL_API_KEY");
    let out = output(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stderr.contains("sk_from_file"));

    let mut without = args.to_vec();
    without.push(base.as_str());
    let mut cmd = command(&without);
    cmd.env_remove("SAIL_API_KEY");
    let out = output(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("SAIL_API_KEY") && out.stderr.contains("--api-key-file"),
        "{}",
        out.stderr
    );
}

/// Answers every request with a 307 to the same path on `to`.
struct RedirectTo(String);

impl wiremock::Respond for RedirectTo {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        ResponseTemplate::new(307)
            .insert_header("location", format!("{}{}", self.0, req.url.path()))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_to_another_host_never_carries_the_key() {
    // The API answers at 127.0.0.1 and redirects to `localhost`: another host, as far as
    // HTTP is concerned, even though it is the same machine.
    let api = TestApi::start().await;
    let elsewhere = TestApi::start().await;
    let target = elsewhere.uri().replace("127.0.0.1", "localhost");
    assert!(target.contains("localhost"), "{target}");
    api.get_any(RedirectTo(target)).await;
    elsewhere.result("b", "x", usage("x", 1, 0, 1, 0)).await;
    // The batch status is redirected too; the other host must know the batch.
    elsewhere.knows_every_batch().await;
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["x"]);
    let out = fetch(&api, "b", &m, &dir.path().join("o.sqlite"), &[]).await;
    assert_eq!(out.code, 0, "{out:?}");

    let sent = api.received_requests().await.unwrap();
    assert!(sent
        .iter()
        .all(|r| r.headers.get("authorization").is_some()));
    let got = elsewhere.received_requests().await.unwrap();
    assert!(
        got.iter().any(|r| r.url.path() == "/v1/batches/b/x"),
        "the redirect was followed"
    );
    for r in &got {
        assert!(
            r.headers.get("authorization").is_none(),
            "{} got an Authorization header",
            r.url
        );
        for (name, value) in &r.headers {
            assert!(
                !value
                    .as_bytes()
                    .windows(KEY.len())
                    .any(|w| w == KEY.as_bytes()),
                "the key reached the other host in {name}"
            );
        }
    }
}
