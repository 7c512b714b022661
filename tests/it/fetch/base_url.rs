//! A wrong `--base-url` as users meet it: the wrong scheme for the port (https:// to plain
//! HTTP, http:// to HTTPS) and a URL without `/v1` get a message naming the fix, on every
//! command that talks to the API.

use std::time::{Duration, Instant};

use sail_export::sim::{Sim, SimConfig, SimHandle};

use crate::harness::*;

async fn sim(tls: bool) -> SimHandle {
    Sim::start(SimConfig {
        api_key: KEY.to_owned(),
        tls,
        ..SimConfig::new(20)
    })
    .await
    .unwrap()
}

/// Runs `args` with `--base-url base`; asserts it failed within a few seconds.
async fn fails_quickly(args: &[&str], base: &str) -> Output {
    let mut all = args.to_vec();
    all.extend(["--base-url", base]);
    let started = Instant::now();
    let out = run(&all).await;
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{args:?} took {:?}",
        started.elapsed()
    );
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn https_to_a_plain_http_port_says_use_http() {
    let sim = sim(false).await;
    let base = sim.base_url().replace("http://", "https://");
    let b = sim.batch_id().to_owned();
    for args in [vec!["status", b.as_str()], vec!["list"]] {
        let out = fails_quickly(&args, &base).await;
        assert!(
            out.stderr.contains("the server speaks plain HTTP")
                && out.stderr.contains("use http://"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("InvalidContentType"), "{}", out.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn http_to_an_https_port_says_use_https() {
    let sim = sim(true).await;
    let base = sim.base_url().replace("https://", "http://");
    let out = fails_quickly(&["status", sim.batch_id()], &base).await;
    assert!(
        out.stderr.contains("the server speaks HTTPS") && out.stderr.contains("use https://"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_says_add_v1_when_the_base_url_lacks_it() {
    let sim = sim(false).await;
    let base = sim.base_url().trim_end_matches("/v1").to_owned();
    let dir = tempfile::tempdir().unwrap();
    let out_db = dir.path().join("o.sqlite");
    let db = out_db.to_str().unwrap();
    let b = sim.batch_id().to_owned();
    for args in [
        vec!["status", b.as_str()],
        vec!["list"],
        vec!["sync", "-o", db],
        vec!["fetch", b.as_str(), "-o", db],
    ] {
        let out = fails_quickly(&args, &base).await;
        assert!(
            out.stderr.contains("does not end in /v1 (add it"),
            "{args:?}: {}",
            out.stderr
        );
    }
}
