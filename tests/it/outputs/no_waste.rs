//! No wasted runs: a batch the API does not know, a base URL without `/v1` and an output
//! name that contradicts the format all end the run before any result is requested and
//! before any file is made.

use super::*;

/// Serves the batch list (so the API is known to be there) and answers 404 with the API's
/// envelope for the status of `batch`.
async fn api_without(batch: &str) -> TestApi {
    let server = TestApi::start().await;
    server.list(json!([])).await;
    let unknown = api_error(404, "batch not found", "not_found");
    server.get(format!("/v1/batches/{batch}"), unknown).await;
    server
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_the_api_does_not_know_stops_before_any_result_request_even_with_a_manifest() {
    let b = "batch_fak1";
    let server = api_without(b).await;
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["a", "b", "c"]);
    let out = at(dir.path(), "typo.sqlite");
    let o = fetch_at(&base(&server), b, &m, &out, &[]).await;
    assert_eq!(o.code, 2, "{o:?}");
    assert!(
        o.stderr.contains("no batch 'batch_fak1' for this key"),
        "{}",
        o.stderr
    );
    assert_eq!(result_requests(&server, b).await, 0);
    assert_eq!(files_in(dir.path()), ["ids.txt"], "no output, no lock file");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_base_url_without_v1_gets_a_hint_naming_base_url_and_no_result_request() {
    let b = "batch_ok";
    let ids = ids(3);
    let server = serve_batch(b, &ids).await;
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["id000", "id001", "id002"]);
    let out = at(dir.path(), "nov1.sqlite");
    // The server's root: every route of the real API is under /v1, so each one is a 404.
    let o = fetch_at(&server.uri(), b, &m, &out, &[]).await;
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("no batch 'batch_ok'"), "{}", o.stderr);
    assert!(o.stderr.contains("--base-url"), "{}", o.stderr);
    assert!(o.stderr.contains("/v1"), "{}", o.stderr);
    let seen = server.received_requests().await.unwrap();
    assert!(
        seen.len() <= 2,
        "a status read and one probe at most: {seen:?}"
    );
    assert_eq!(files_in(dir.path()), ["ids.txt"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_status_that_fails_to_read_is_still_worked_around_with_a_manifest() {
    let b = "batch_5xx";
    let ids = ids(3);
    let server = TestApi::start().await;
    server.get(format!("/v1/batches/{b}"), status(503)).await;
    server.completed(b, &ids).await;
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["id000", "id001", "id002"]);
    let out = at(dir.path(), "w.sqlite");
    let o = fetch_at(&base(&server), b, &m, &out, &["--max-retries", "0"]).await;
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("warning"), "{}", o.stderr);
    assert_eq!(id_counts(&out, b).1, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_output_name_that_contradicts_the_format_or_names_none_is_refused_up_front() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["a"]);
    let cases: [(&str, &[&str], &[&str]); 4] = [
        (
            "p.sqlite",
            &["--format", "parquet"],
            &["p.sqlite", "parquet"],
        ),
        (
            "s.parquet",
            &["--format", "sqlite"],
            &["s.parquet", "sqlite"],
        ),
        (
            "out.csv",
            &[],
            &["out.csv", "--format", ".sqlite", ".parquet"],
        ),
        ("noext", &[], &["noext", "--format"]),
    ];
    for (name, extra, said) in cases {
        let o = fetch_at(&base(&server), "b", &m, &at(dir.path(), name), extra).await;
        assert_eq!(o.code, 2, "{name}: {o:?}");
        for s in said {
            assert!(o.stderr.contains(s), "{name}: {s} not in {}", o.stderr);
        }
    }
    assert!(server.received_requests().await.unwrap().is_empty());
    assert_eq!(files_in(dir.path()), ["ids.txt"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn known_extensions_pick_the_format_and_format_names_any_other() {
    let b = "batch_ext";
    let ids = ids(2);
    let server = serve_batch(b, &ids).await;
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["id000", "id001"]);
    for (name, extra) in [
        ("a.db", &[][..]),
        ("b.PARQUET", &[][..]),
        ("c.export", &["--format", "sqlite"][..]),
    ] {
        let o = fetch_at(&base(&server), b, &m, &at(dir.path(), name), extra).await;
        assert_eq!(o.code, 0, "{name}: {o:?}");
    }
    let magic = |name: &str| std::fs::read(at(dir.path(), name)).unwrap()[..4].to_vec();
    assert_eq!(magic("a.db"), b"SQLi");
    assert_eq!(magic("b.PARQUET"), b"PAR1");
    assert_eq!(magic("c.export"), b"SQLi");
}
