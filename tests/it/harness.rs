//! Test helpers: run the real binary, serve a fake Sail API with wiremock, build realistic
//! response bodies, read back SQLite tables, and find a Python with pyarrow/duckdb. The
//! scripted API the tests share, [`TestApi`], is in `harness/api.rs`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

mod api;

pub use api::*;

/// The key every test uses; tests assert it never shows up in any output.
pub const KEY: &str = "sk_test_SECRET_4f9a7c";

/// What a finished run of the binary left behind.
#[derive(Debug)]
pub struct Output {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Everything printed on stdout.
    pub stdout: String,
    /// Everything printed on stderr.
    pub stderr: String,
}

/// The binary under test: the one named by `SAIL_EXPORT_BIN` when set (a build for another
/// target, such as the static Linux binary), else the one cargo built with these tests.
pub fn bin() -> PathBuf {
    match std::env::var_os("SAIL_EXPORT_BIN") {
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(p.is_file(), "SAIL_EXPORT_BIN={} is not a file", p.display());
            p
        }
        None => PathBuf::from(env!("CARGO_BIN_EXE_sail-export")),
    }
}

/// The binary under test, with the API environment cleared and the test key set.
pub fn command(args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(bin());
    cmd.args(args).env_remove("SAIL_BASE_URL");
    // A proxy in the developer's environment would otherwise carry the loopback traffic.
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("SAIL_API_KEY", KEY)
        // No prices folder of the developer's: a folder that does not exist is no layer.
        .env(
            "SAIL_EXPORT_PRICES_DIR",
            std::env::temp_dir().join("sail-export-tests-no-prices-folder"),
        )
        .env("RUST_LOG", "trace")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs the binary to completion.
pub async fn run(args: &[&str]) -> Output {
    output(command(args)).await
}

/// Runs a prepared command to completion.
pub async fn output(mut cmd: tokio::process::Command) -> Output {
    let out = cmd.output().await.expect("run sail-export");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The base URL (with /v1) of a mock server.
pub fn base(server: &MockServer) -> String {
    format!("{}/v1", server.uri())
}

/// A realistic completed response for `custom_id`.
pub fn completed(custom_id: &str, input: i64, cached: i64, output: i64, reasoning: i64) -> Value {
    json!({
        "id": format!("resp_{custom_id}"),
        "object": "response",
        "created_at": 1_764_000_000,
        "status": "completed",
        "model": "zai-org/GLM-5.3",
        "metadata": {"completion_window": "flex", "job": "eval"},
        "output": [
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thinking"}]},
            {"type": "message", "role": "assistant", "content": [
                {"type": "output_text", "text": format!("answer for {custom_id}"), "annotations": []}
            ]}
        ],
        "usage": {
            "input_tokens": input,
            "input_tokens_details": {"cached_tokens": cached, "reasoning_tokens": 0},
            "output_tokens": output,
            "output_tokens_details": {"cached_tokens": 0, "reasoning_tokens": reasoning},
            "total_tokens": input + output
        },
        "max_output_tokens": 2048,
        "temperature": 0.7,
        "top_p": 1.0,
        "error": null,
        "incomplete_details": null
    })
}

/// Mounts `GET /v1/batches/{batch}/{id}` answering `body` with 200, for each pair.
pub async fn serve_results(server: &MockServer, batch: &str, items: &[(&str, Value)]) {
    for (id, body) in items {
        Mock::given(method("GET"))
            .and(path(format!("/v1/batches/{batch}/{id}")))
            .and(header("authorization", format!("Bearer {KEY}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(server)
            .await;
    }
}

/// Makes `server` know every batch: `GET /v1/batches/{id}` answers 200 with the batch and
/// no `request_status`, so a run with a manifest fetches every id in it. A test's own
/// status mock wins over this one (it has the lowest priority); without any, a status
/// request is a 404 and `fetch` stops before requesting a result.
pub async fn know_every_batch(server: &MockServer) {
    struct AnyBatch;
    impl Respond for AnyBatch {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            let id = req.url.path().rsplit('/').next().unwrap_or_default();
            ResponseTemplate::new(200).set_body_json(json!({"id": id, "request_counts": 0}))
        }
    }
    Mock::given(method("GET"))
        .and(path_regex("^/v1/batches/[^/]+$"))
        .respond_with(AnyBatch)
        .with_priority(u8::MAX)
        .mount(server)
        .await;
}

/// Writes a text manifest with these ids into `dir`; returns its path.
pub fn manifest(dir: &Path, ids: &[&str]) -> PathBuf {
    let p = dir.join("ids.txt");
    std::fs::write(&p, ids.join("\n")).unwrap();
    p
}

/// Every row of `sql` as JSON values (column name → value), for readable assertions.
pub fn query(db: &Path, sql: &str) -> Vec<serde_json::Map<String, Value>> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let names: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
    stmt.query_map([], |r| {
        let mut m = serde_json::Map::new();
        for (i, n) in names.iter().enumerate() {
            let v = match r.get_ref(i)? {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(x) => json!(x),
                rusqlite::types::ValueRef::Real(x) => json!(x),
                rusqlite::types::ValueRef::Text(t) => json!(String::from_utf8_lossy(t)),
                rusqlite::types::ValueRef::Blob(_) => json!("<blob>"),
            };
            m.insert(n.clone(), v);
        }
        Ok(m)
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// A Python interpreter that can import pyarrow and duckdb (and moto, the S3-compatible
/// server of the object storage tests): `SAIL_EXPORT_PYTHON`, else the project's `.venv`,
/// else `python3`. When none can, the first call makes the project's `.venv` and installs
/// them from PyPI, so a plain `cargo test` on a fresh machine runs every
/// check. `None` only when `SAIL_EXPORT_SKIP_READERS=1` says to skip the reader checks;
/// otherwise a reader that cannot be had fails the test, naming what to do.
pub fn python() -> Option<PathBuf> {
    static PYTHON: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    if std::env::var("SAIL_EXPORT_SKIP_READERS").as_deref() == Ok("1") {
        eprintln!("SKIPPED: Parquet reader checks (SAIL_EXPORT_SKIP_READERS=1)");
        return None;
    }
    match PYTHON.get_or_init(find_or_install_readers) {
        Ok(py) => Some(py.clone()),
        Err(why) => panic!(
            "no Python with pyarrow and duckdb: {why}; set SAIL_EXPORT_PYTHON to one, or \
             SAIL_EXPORT_SKIP_READERS=1 to skip these checks"
        ),
    }
}

fn can_read_parquet(py: &Path) -> bool {
    std::process::Command::new(py)
        .args(["-c", "import pyarrow, duckdb, moto.server, boto3"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The first Python that has both readers, else a fresh `.venv` with them installed.
fn find_or_install_readers() -> Result<PathBuf, String> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv");
    let candidates = [
        std::env::var_os("SAIL_EXPORT_PYTHON").map(PathBuf::from),
        Some(venv.join("bin/python")),
        Some(PathBuf::from("python3")),
    ];
    if let Some(py) = candidates
        .into_iter()
        .flatten()
        .find(|p| can_read_parquet(p))
    {
        return Ok(py);
    }
    eprintln!(
        "setting up pyarrow, duckdb and moto in {} (once)",
        venv.display()
    );
    let run = |program: &Path, args: &[&str]| -> Result<(), String> {
        let out = std::process::Command::new(program)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        match out.status.success() {
            true => Ok(()),
            false => Err(format!(
                "{} {} failed: {}",
                program.display(),
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        }
    };
    let venv_arg = venv.to_string_lossy();
    run(Path::new("python3"), &["-m", "venv", &venv_arg])?;
    let py = venv.join("bin/python");
    run(
        &py,
        &[
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "pyarrow",
            "duckdb",
            "moto[server]",
        ],
    )?;
    match can_read_parquet(&py) {
        true => Ok(py),
        false => Err(format!("{} still cannot import them", py.display())),
    }
}

/// Asserts the test key appears nowhere in the output of a run.
pub fn assert_no_key(out: &Output) {
    assert!(!out.stdout.contains(KEY), "key leaked on stdout");
    assert!(!out.stderr.contains(KEY), "key leaked on stderr");
}

/// Runs `sail-export fetch BATCH -m MANIFEST -o OUT --base-url <server> --json` plus `extra`,
/// with the server knowing every batch ([`know_every_batch`]) unless the test says
/// otherwise.
pub async fn fetch(
    server: &MockServer,
    batch: &str,
    manifest: &Path,
    out: &Path,
    extra: &[&str],
) -> Output {
    know_every_batch(server).await;
    fetch_at(&base(server), batch, manifest, out, extra).await
}

/// [`fetch`] against any base URL (a hand-made server, a closed port); asserts the key
/// leaked nowhere.
pub async fn fetch_at(
    base: &str,
    batch: &str,
    manifest: &Path,
    out: &Path,
    extra: &[&str],
) -> Output {
    let out = output(fetch_command(base, batch, manifest, out, extra)).await;
    assert_no_key(&out);
    out
}

/// The command `sail-export fetch BATCH -m MANIFEST -o OUT --base-url BASE --json` plus
/// `extra`, not started.
pub fn fetch_command(
    base: &str,
    batch: &str,
    manifest: &Path,
    out: &Path,
    extra: &[&str],
) -> tokio::process::Command {
    let mut args = vec![
        "fetch",
        batch,
        "-m",
        manifest.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--base-url",
        base,
        "--json",
    ];
    args.extend_from_slice(extra);
    command(&args)
}

/// The JSON summary a `--json` run printed on stdout.
pub fn summary(out: &Output) -> Value {
    serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON summary ({e}): {out:?}"))
}

/// Requests the mock server received whose path is exactly `p` (percent-encoded form).
pub async fn requests_to(server: &MockServer, p: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}

/// Requests the mock server received for results of `batch` (any custom_id).
pub async fn result_requests(server: &MockServer, batch: &str) -> usize {
    let prefix = format!("/v1/batches/{batch}/");
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().starts_with(&prefix))
        .count()
}

/// Mounts a 200 answer `body` for `GET /v1/batches/{batch}/{id}` (id already URL-encoded).
pub async fn serve_one(server: &MockServer, batch: &str, id: &str, template: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(format!("/v1/batches/{batch}/{id}")))
        .respond_with(template)
        .mount(server)
        .await;
}
