//! With `--json`, an error that ends a command still prints one JSON object on stdout:
//! `fatal_error` (the message printed on stderr) and `exit_code`, so a script reading
//! stdout sees why there is no result.

use serde_json::Value;
use wiremock::MockServer;

use crate::harness::*;

/// The object a failed `--json` run printed, checked against its exit code and stderr.
fn failure(out: &Output) -> Value {
    assert_ne!(out.code, 0, "{out:?}");
    let obj: Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {out:?}"));
    assert_eq!(obj["exit_code"], out.code, "{obj}");
    let msg = obj["fatal_error"].as_str().expect("fatal_error");
    assert!(
        out.stderr.contains(&format!("error: {msg}")),
        "{msg} / {}",
        out.stderr
    );
    obj
}

#[tokio::test]
async fn every_json_command_prints_its_fatal_error_on_stdout() {
    // A server that knows no batch and lists nothing: every API call is a 404.
    let server = MockServer::start().await;
    let url = base(&server);
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("x.sqlite");

    let fetch = run(&[
        "fetch",
        "batch_gone",
        "-o",
        out_path.to_str().unwrap(),
        "--base-url",
        &url,
        "--json",
    ])
    .await;
    let obj = failure(&fetch);
    assert!(
        obj["fatal_error"].as_str().unwrap().contains("batch_gone"),
        "{obj}"
    );
    // fetch's object has the summary's shape: the counts so far, the status read included.
    assert_eq!(obj["batch_id"], "batch_gone", "{obj}");
    assert_eq!(obj["fetched"], 0, "{obj}");
    assert!(obj["requests"].as_u64().unwrap() >= 1, "{obj}");

    let status = run(&["status", "batch_gone", "--base-url", &url, "--json"]).await;
    failure(&status);

    let list = run(&["list", "--base-url", &url, "--json"]).await;
    failure(&list);

    // sync fails at its listing, before it has a report.
    let sync_out = dir.path().join("all.sqlite");
    let sync = run(&[
        "sync",
        "-o",
        sync_out.to_str().unwrap(),
        "--base-url",
        &url,
        "--json",
    ])
    .await;
    failure(&sync);

    let missing = dir.path().join("missing.sqlite");
    let cost = run(&["cost", missing.to_str().unwrap(), "--json"]).await;
    let obj = failure(&cost);
    assert_eq!(obj["exit_code"], 2);

    // Without --json, stdout stays empty.
    let plain = run(&["status", "batch_gone", "--base-url", &url]).await;
    assert_ne!(plain.code, 0);
    assert_eq!(plain.stdout, "");
}
