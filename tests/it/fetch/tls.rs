//! HTTPS as users meet it: the simulator serves TLS with a throwaway CA, and the binary trusts
//! it only when told (`--ca-cert`, `SSL_CERT_FILE`); an untrusted certificate stops the run at
//! once with a message naming the fix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sail_export::sim::{ItemKind, Sim, SimConfig, SimHandle};

use crate::harness::*;

/// Ids in the export tests: finished items only, so a complete export exits 0.
const IDS: usize = 40;

/// The HTTPS simulator with the harness key.
pub async fn https_sim() -> SimHandle {
    Sim::start(SimConfig {
        api_key: KEY.to_owned(),
        tls: true,
        ..SimConfig::new(200)
    })
    .await
    .unwrap()
}

/// Writes the simulator's CA to `dir/ca.pem`.
pub fn write_ca(sim: &SimHandle, dir: &Path) -> PathBuf {
    let p = dir.join("ca.pem");
    std::fs::write(&p, sim.ca_pem().unwrap()).unwrap();
    p
}

/// A manifest of the first [`IDS`] finished items that have a result.
pub fn finished_ids(sim: &SimHandle, dir: &Path) -> PathBuf {
    let d = sim.dataset();
    let ids: Vec<String> = (0..d.items())
        .filter(|i| {
            let k = d.kind(0, *i);
            !k.is_unfinished() && k != ItemKind::Expired
        })
        .take(IDS)
        .map(sail_export::sim::Dataset::custom_id)
        .collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    manifest(dir, &refs)
}

/// `fetch BATCH` of `manifest` from `base` into `dir/o.sqlite`
/// plus `extra`, with no proxy and no certificate variables from the environment.
pub fn fetch_cmd(
    batch: &str,
    base: &str,
    manifest: &Path,
    dir: &Path,
    extra: &[&str],
) -> tokio::process::Command {
    let mut cmd = fetch_command(base, batch, manifest, &dir.join("o.sqlite"), extra);
    for var in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `cmd` and checks the key leaked nowhere.
pub async fn finish(cmd: tokio::process::Command) -> Output {
    let out = output(cmd).await;
    assert_no_key(&out);
    out
}

/// Asserts the run exported every id of the manifest.
pub fn assert_exported_all(out: &Output, dir: &Path) {
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(summary(out)["fetched"], IDS as u64, "{out:?}");
    let rows = query(
        &dir.join("o.sqlite"),
        "SELECT COUNT(DISTINCT custom_id) AS n FROM results WHERE fetch_state = 'fetched'",
    );
    assert_eq!(rows[0]["n"], IDS as u64);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_certificate_stops_at_the_first_handshake_and_names_ca_cert() {
    let sim = https_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let m = finished_ids(&sim, dir.path());
    let out = finish(fetch_cmd(
        sim.batch_id(),
        &sim.base_url(),
        &m,
        dir.path(),
        &[],
    ))
    .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("certificate") && out.stderr.contains("--ca-cert"),
        "{}",
        out.stderr
    );
    // The server counts a failed handshake when the client's alert arrives, which can be
    // after the client exited: wait for it, then for any that would follow.
    for _ in 0..100 {
        if sim.stats().tls_rejected > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = sim.stats();
    assert_eq!(stats.requests, 0, "no request got through: {stats:?}");
    assert_eq!(
        stats.tls_rejected, 1,
        "one failed handshake is enough to stop: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ca_cert_makes_the_https_simulator_trusted_and_http2_is_used() {
    let sim = https_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let m = finished_ids(&sim, dir.path());
    let ca = write_ca(&sim, dir.path());
    let out = finish(fetch_cmd(
        sim.batch_id(),
        &sim.base_url(),
        &m,
        dir.path(),
        &["--ca-cert", ca.to_str().unwrap()],
    ))
    .await;
    assert_exported_all(&out, dir.path());
    let stats = sim.stats();
    assert_eq!(stats.http2, stats.requests, "ALPN chose HTTP/2: {stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn http1_only_speaks_http1_over_tls() {
    let sim = https_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let m = finished_ids(&sim, dir.path());
    let ca = write_ca(&sim, dir.path());
    let args = ["--ca-cert", ca.to_str().unwrap(), "--http1-only"];
    let out = finish(fetch_cmd(
        sim.batch_id(),
        &sim.base_url(),
        &m,
        dir.path(),
        &args,
    ))
    .await;
    assert_exported_all(&out, dir.path());
    let stats = sim.stats();
    assert!(stats.requests > IDS as u64, "{stats:?}");
    assert_eq!(stats.http2, 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ssl_cert_file_is_trusted_like_the_os_store() {
    let sim = https_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let m = finished_ids(&sim, dir.path());
    let ca = write_ca(&sim, dir.path());
    let mut cmd = fetch_cmd(sim.batch_id(), &sim.base_url(), &m, dir.path(), &[]);
    cmd.env("SSL_CERT_FILE", &ca);
    assert_exported_all(&finish(cmd).await, dir.path());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_or_missing_os_store_still_trusts_ca_cert() {
    let sim = https_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let m = finished_ids(&sim, dir.path());
    let ca = write_ca(&sim, dir.path());
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = fetch_cmd(
        sim.batch_id(),
        &sim.base_url(),
        &m,
        dir.path(),
        &["--ca-cert", ca.to_str().unwrap()],
    );
    cmd.env("SSL_CERT_FILE", dir.path().join("no-such-file.pem"))
        .env("SSL_CERT_DIR", empty.path());
    assert_exported_all(&finish(cmd).await, dir.path());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_ca_cert_file_is_a_usage_error_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["a"]);
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let missing = dir.path().join("missing.pem");
    for (file, why) in [(&junk, "no PEM certificate"), (&missing, "cannot read")] {
        let args = ["--ca-cert", file.to_str().unwrap()];
        let out = finish(fetch_cmd(
            "b",
            "https://127.0.0.1:9/v1",
            &m,
            dir.path(),
            &args,
        ))
        .await;
        assert_eq!(out.code, 2, "{out:?}");
        assert!(
            out.stderr.contains("--ca-cert") && out.stderr.contains(why),
            "{}",
            out.stderr
        );
        assert!(!dir.path().join("o.sqlite").exists());
    }
}
