//! `demo --serve` keeps the simulated API up after its export: the `export` lines it prints
//! reach it, `status`, `list` and `fetch --wait` work there, and SIGTERM ends it with exit
//! 0. Plain `demo` ends with its output's absolute path and the next command.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Child;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::harness::*;

/// How long a step may hang before the test gives up (a guard, not an assertion on speed).
const HANG: Duration = Duration::from_secs(120);

/// A running `demo --serve` and what it told the user.
struct Served {
    child: Child,
    /// The value of the printed `export SAIL_BASE_URL=` line.
    base_url: String,
    /// The value of the printed `export SAIL_API_KEY=` line.
    key: String,
    /// The batch of the printed `sail-export status` line.
    batch: String,
    /// Everything on stderr, once the demo has ended.
    stderr: JoinHandle<String>,
}

impl Served {
    /// Starts `demo --serve --port 0 ARGS` and reads stderr until the `export` lines and the
    /// `status` command have been printed.
    async fn start(args: &[&str]) -> Served {
        let mut all = vec!["demo", "--serve", "--port", "0"];
        all.extend_from_slice(args);
        let mut child = command(&all)
            .spawn()
            .expect("start sail-export demo --serve");
        let mut stdout = child.stdout.take().unwrap();
        tokio::spawn(async move {
            let mut sink = Vec::new();
            let _ = stdout.read_to_end(&mut sink).await;
        });
        let (tx, mut lines) = mpsc::unbounded_channel();
        let mut reader = BufReader::new(child.stderr.take().unwrap()).lines();
        let stderr = tokio::spawn(async move {
            let mut seen = String::new();
            while let Ok(Some(line)) = reader.next_line().await {
                let _ = tx.send(line.clone());
                seen.push_str(&line);
                seen.push('\n');
            }
            seen
        });
        let (mut base_url, mut key, mut batch) = (None, None, None);
        let mut printed = String::new();
        while base_url.is_none() || key.is_none() || batch.is_none() {
            let line = tokio::time::timeout(HANG, lines.recv())
                .await
                .expect("demo --serve printed no export lines")
                .unwrap_or_else(|| panic!("demo --serve ended before serving:\n{printed}"));
            let line = line.trim();
            let value = |prefix: &str| line.strip_prefix(prefix).map(str::to_owned);
            base_url = base_url.or(value("export SAIL_BASE_URL="));
            key = key.or(value("export SAIL_API_KEY="));
            batch = batch.or(value("sail-export status "));
            printed.push_str(line);
            printed.push('\n');
        }
        Served {
            child,
            base_url: base_url.unwrap(),
            key: key.unwrap(),
            batch: batch.unwrap(),
            stderr,
        }
    }

    /// Runs the binary with the printed `SAIL_BASE_URL` and `SAIL_API_KEY`.
    async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = command(args);
        cmd.env("SAIL_BASE_URL", &self.base_url)
            .env("SAIL_API_KEY", &self.key);
        tokio::time::timeout(HANG, output(cmd))
            .await
            .unwrap_or_else(|_| panic!("sail-export {args:?} against the served demo hung"))
    }

    /// Sends SIGTERM; returns the exit code and everything the demo printed on stderr.
    async fn terminate(mut self) -> (i32, String) {
        let pid = self
            .child
            .id()
            .expect("the demo is still running")
            .to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = tokio::time::timeout(HANG, self.child.wait())
            .await
            .expect("the demo did not stop after SIGTERM")
            .unwrap();
        (status.code().unwrap_or(-1), self.stderr.await.unwrap())
    }
}

/// `(fetch_state, rows)` of an export, for readable comparisons.
fn states(db: &Path) -> Vec<(String, i64)> {
    query(
        db,
        "SELECT fetch_state, COUNT(*) AS n FROM results GROUP BY 1 ORDER BY 1",
    )
    .into_iter()
    .map(|r| {
        let state = r["fetch_state"].as_str().unwrap().to_owned();
        (state, r["n"].as_i64().unwrap())
    })
    .collect()
}

fn count(states: &[(String, i64)], state: &str) -> i64 {
    states.iter().find(|(s, _)| s == state).map_or(0, |s| s.1)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_served_demo_answers_status_list_and_fetch_wait_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let demo_db = dir.path().join("demo.sqlite");
    let demo_arg = demo_db.to_str().unwrap();
    let args = ["--requests", "200", "--finish-in", "1", "-o", demo_arg];
    let served = Served::start(&args).await;
    assert!(
        served.base_url.starts_with("http://127.0.0.1:") && served.base_url.ends_with("/v1"),
        "{}",
        served.base_url
    );
    let exported = states(&demo_db);
    assert!(count(&exported, "pending") > 0, "{exported:?}");
    assert!(count(&exported, "not_found") > 0, "{exported:?}");

    let status = served.run(&["status", &served.batch]).await;
    assert_eq!(status.code, 0, "{status:?}");
    assert!(status.stdout.contains(&served.batch), "{}", status.stdout);
    assert!(status.stdout.contains("sim-eval-0"), "{}", status.stdout);

    let list = served.run(&["list"]).await;
    assert_eq!(list.code, 0, "{list:?}");
    for shown in [
        served.batch.as_str(),
        "sim-eval-1",
        "sim-eval-2",
        "3 batches",
    ] {
        assert!(list.stdout.contains(shown), "{shown}: {}", list.stdout);
    }

    // The items the demo's export left pending complete while the API is up: `--wait`
    // ends with every one of them fetched; the results past retention stay not_found.
    let wait_db = dir.path().join("wait.sqlite");
    let fetch = served
        .run(&[
            "fetch",
            &served.batch,
            "--wait",
            "--poll-interval",
            "0.2",
            "-o",
            wait_db.to_str().unwrap(),
        ])
        .await;
    assert_eq!(fetch.code, 3, "not_found rows make it exit 3: {fetch:?}");
    let waited = states(&wait_db);
    assert_eq!(count(&waited, "pending"), 0, "{waited:?}");
    assert_eq!(count(&waited, "error"), 0, "{waited:?}");
    assert_eq!(
        count(&waited, "not_found"),
        count(&exported, "not_found"),
        "{waited:?}"
    );
    assert_eq!(count(&waited, "fetched"), 200 - count(&waited, "not_found"));

    let (code, stderr) = served.terminate().await;
    assert_eq!(code, 0, "SIGTERM while serving is a clean end:\n{stderr}");
    assert!(stderr.contains("stopping the simulated API"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_served_demo_names_port_when_the_port_is_taken() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.sqlite");
    let db_arg = db.to_str().unwrap();
    let out = run(&[
        "demo",
        "--serve",
        "--port",
        &port,
        "--requests",
        "5",
        "-o",
        db_arg,
    ])
    .await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains(&format!("--port {port}")),
        "{}",
        out.stderr
    );
    assert!(!db.exists(), "no export before the port check");

    let without_serve = run(&["demo", "--port", &port, "-o", db_arg]).await;
    assert_eq!(without_serve.code, 2, "{without_serve:?}");
    assert!(
        without_serve.stderr.contains("--serve"),
        "{}",
        without_serve.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plain_demo_ends_with_the_absolute_path_of_its_output_and_the_next_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(&["demo", "--requests", "20", "-o", "relative.sqlite"]);
    cmd.current_dir(dir.path());
    let out = output(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let shown = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("demo output: "))
        .unwrap_or_else(|| panic!("no output path:\n{}", out.stderr));
    let shown = PathBuf::from(shown);
    assert!(shown.is_absolute(), "{}", shown.display());
    assert_eq!(
        shown.canonicalize().unwrap(),
        dir.path().join("relative.sqlite").canonicalize().unwrap()
    );
    let next = format!("next: sail-export cost {}", shown.display());
    assert!(out.stderr.contains(&next), "{}", out.stderr);
    assert!(
        out.stderr.contains("sail-export demo --serve"),
        "{}",
        out.stderr
    );
}
