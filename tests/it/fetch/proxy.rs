//! Proxies from the environment are used (`HTTPS_PROXY` through a CONNECT tunnel, `HTTP_PROXY`
//! with absolute-form requests), `NO_PROXY` bypasses them, and a plain http:// base URL to
//! another machine is refused unless `--allow-insecure-http`.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sail_export::sim::SimHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::tls::{assert_exported_all, fetch_cmd, finish, finished_ids, https_sim, write_ca};
use crate::harness::*;

/// A forward proxy on loopback that only tunnels: `CONNECT host:port` is answered 200 and
/// joined to `127.0.0.1:port`, whatever the host. Counts the tunnels it opened.
struct ConnectProxy {
    url: String,
    tunnels: Arc<AtomicUsize>,
}

impl ConnectProxy {
    async fn start() -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let tunnels = Arc::new(AtomicUsize::new(0));
        let count = tunnels.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(tunnel(client, count.clone()));
            }
        });
        ConnectProxy { url, tunnels }
    }

    fn tunnels(&self) -> usize {
        self.tunnels.load(Ordering::Relaxed)
    }
}

/// Serves one proxy connection: reads the request head, opens the tunnel, copies both ways.
async fn tunnel(mut client: TcpStream, count: Arc<AtomicUsize>) -> Option<()> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        head.push(client.read_u8().await.ok()?);
    }
    let head = String::from_utf8(head).ok()?;
    let target = head.strip_prefix("CONNECT ")?.split_whitespace().next()?;
    let port: u16 = target.rsplit_once(':')?.1.parse().ok()?;
    let mut upstream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    count.fetch_add(1, Ordering::Relaxed);
    client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await
        .ok()?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream)
        .await
        .ok()?;
    Some(())
}

/// The simulator's base URL with `localhost` as the host, so a proxy sees a name.
fn by_name(base: &str) -> String {
    base.replace("127.0.0.1", "localhost")
}

/// A fetch from the HTTPS simulator by name, trusting its CA, into `dir`.
fn fetch_by_name(sim: &SimHandle, dir: &Path) -> tokio::process::Command {
    let m = finished_ids(sim, dir);
    let ca = write_ca(sim, dir);
    let args = ["--ca-cert", ca.to_str().unwrap()];
    fetch_cmd(sim.batch_id(), &by_name(&sim.base_url()), &m, dir, &args)
}

#[tokio::test(flavor = "multi_thread")]
async fn https_proxy_from_the_environment_tunnels_every_connection() {
    let sim = https_sim().await;
    let proxy = ConnectProxy::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = fetch_by_name(&sim, dir.path());
    cmd.env("HTTPS_PROXY", &proxy.url);
    assert_exported_all(&finish(cmd).await, dir.path());
    assert!(proxy.tunnels() >= 1, "the proxy was not used");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_proxy_bypasses_the_proxy() {
    let sim = https_sim().await;
    let proxy = ConnectProxy::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = fetch_by_name(&sim, dir.path());
    cmd.env("HTTPS_PROXY", &proxy.url)
        .env("NO_PROXY", "localhost");
    assert_exported_all(&finish(cmd).await, dir.path());
    assert_eq!(proxy.tunnels(), 0, "NO_PROXY was ignored");
}

#[tokio::test(flavor = "multi_thread")]
async fn http_proxy_receives_plain_http_requests_for_an_allowed_insecure_host() {
    // The mock server plays the proxy: a plain-http request to another host reaches it in
    // absolute form, Host header and all.
    let proxy = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/batches/b/x"))
        .and(header("host", "sail.invalid"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(completed("x", 1, 0, 1, 0)))
        .mount(&proxy)
        .await;
    know_every_batch(&proxy).await;
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["x"]);
    let db = dir.path().join("o.sqlite");
    let mut cmd = command(&[
        "fetch",
        "b",
        "-m",
        m.to_str().unwrap(),
        "-o",
        db.to_str().unwrap(),
        "--base-url",
        "http://sail.invalid/v1",
        "--allow-insecure-http",
    ]);
    cmd.env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env("HTTP_PROXY", proxy.uri());
    let out = finish(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        query(&db, "SELECT custom_id FROM results")[0]["custom_id"],
        "x"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_to_another_machine_is_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["x"]);
    for base in [
        "http://sail.invalid/v1",
        "http://0.0.0.0:9/v1",
        "http://localhost.evil.example/v1",
    ] {
        let out = finish(fetch_cmd("b", base, &m, dir.path(), &[])).await;
        assert_eq!(out.code, 2, "{base}: {out:?}");
        assert!(
            out.stderr.contains("--allow-insecure-http") && out.stderr.contains(base),
            "{}",
            out.stderr
        );
        assert!(!dir.path().join("o.sqlite").exists());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_to_this_machine_is_allowed() {
    // Nothing listens on port 9 of these addresses: the run gets as far as requesting the
    // id, which fails (no retry) and is recorded as an error row.
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["x"]);
    for base in [
        "http://127.0.0.1:9/v1",
        "http://127.3.4.5:9/v1",
        "http://localhost:9/v1",
        "http://[::1]:9/v1",
    ] {
        let out = finish(fetch_cmd(
            "b",
            base,
            &m,
            dir.path(),
            &["--max-retries", "0"],
        ))
        .await;
        assert_eq!(out.code, 3, "{base}: {out:?}");
        assert_eq!(summary(&out)["error"], 1, "the id was requested: {out:?}");
        assert!(
            !out.stderr.contains("--allow-insecure-http"),
            "{}",
            out.stderr
        );
    }
}
