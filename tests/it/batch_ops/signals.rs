//! SIGINT / SIGTERM: the run stops, commits what it fetched, prints the summary, exits
//! 130 / 143, and a rerun resumes.

use std::time::{Duration, Instant};

use wiremock::{MockServer, ResponseTemplate};

use super::*;
use crate::harness::*;

/// Starts the binary, waits until `ready(paths seen)` holds, sends `signal`, and returns
/// what the run printed.
async fn signal_when(
    args: &[&str],
    server: &MockServer,
    ready: impl Fn(&[String]) -> bool,
    signal: &str,
) -> Output {
    let child = command(args).spawn().expect("start sail-export");
    let pid = child.id().expect("pid").to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready(&paths(server).await) {
        assert!(
            Instant::now() < deadline,
            "never ready: {:?}",
            paths(server).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("the run did not stop within 10 s of the signal")
        .unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Whether the export at `db` already holds a committed `fetched` row for `id` (false while
/// the file or its tables do not exist yet).
fn committed(db: &std::path::Path, id: &str) -> bool {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let Ok(conn) = rusqlite::Connection::open_with_flags(db, flags) else {
        return false;
    };
    conn.query_row(
        "SELECT count(*) FROM results WHERE custom_id = ?1 AND fetch_state = 'fetched'",
        [id],
        |r| r.get::<_, i64>(0),
    )
    .is_ok_and(|n| n == 1)
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_mid_run_commits_what_was_fetched_and_a_rerun_resumes() {
    let server = TestApi::start().await;
    let b = "batch_i";
    let ids: Vec<String> = (0..20).map(|i| format!("id{i:02}")).collect();
    let all: Vec<(&str, &str)> = ids.iter().map(|i| (i.as_str(), "COMPLETED")).collect();
    serve_status(&server, b, vec![batch_body(b, 60, &all)]).await;
    // The first three answer at once, every other one hangs.
    for (n, id) in ids.iter().enumerate() {
        let mut resp = ResponseTemplate::new(200).set_body_json(completed(id, 3, 0, 2, 0));
        if n >= 3 {
            resp = resp.set_delay(Duration::from_secs(60));
        }
        server.result(b, id, resp).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let m = manifest(dir.path(), &refs);
    let db = dir.path().join("i.sqlite");
    let base = base(&server);
    let mut args = fetch_args(b, m.to_str().unwrap(), db.to_str().unwrap(), &base);
    args.extend(["-j", "4"]);
    // With 4 in flight, the 7th result request goes out only once id00..id02 are written.
    let results = |p: &[String]| p.iter().filter(|p| p.matches('/').count() == 4).count();
    let out = signal_when(&args, &server, |p| results(p) >= 7, "-INT").await;
    assert_eq!(out.code, 130, "{out:?}");
    assert!(out.stderr.contains("3 fetched"), "{}", out.stderr);
    assert!(out.stderr.contains("rerun"), "{}", out.stderr);
    let rows = query(
        &db,
        "SELECT custom_id FROM results WHERE fetch_state = 'fetched' ORDER BY 1",
    );
    let got: Vec<&str> = rows
        .iter()
        .map(|r| r["custom_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["id00", "id01", "id02"]);
    let runs = query(&db, "SELECT outcome FROM runs");
    assert_eq!(runs[0]["outcome"], "interrupted");

    server.reset().await;
    serve_status(&server, b, vec![batch_body(b, 60, &all)]).await;
    serve_completed(&server, b, &refs).await;
    let out = run(&args).await;
    assert_eq!(out.code, 0, "{out:?}");
    let seen = paths(&server).await;
    for done in ["id00", "id01", "id02"] {
        assert!(
            !seen.contains(&format!("/v1/batches/{b}/{done}")),
            "{done} refetched"
        );
    }
    assert_eq!(results(&seen), 17);
    let rows = query(
        &db,
        "SELECT count(*) AS n FROM results WHERE fetch_state = 'fetched'",
    );
    assert_eq!(rows[0]["n"], 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_wait_sleep_exits_143_with_the_summary() {
    let server = TestApi::start().await;
    let b = "batch_t";
    serve_status(
        &server,
        b,
        vec![batch_body(b, 60, &[("a", "COMPLETED"), ("b", "RUNNING")])],
    )
    .await;
    serve_completed(&server, b, &["a", "b"]).await;
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), &["a", "b"]);
    let db = dir.path().join("t.sqlite");
    let base = base(&server);
    let mut args = fetch_args(b, m.to_str().unwrap(), db.to_str().unwrap(), &base);
    args.extend(["--wait", "--poll-interval", "0.1"]);
    let status = format!("/v1/batches/{b}");
    // Three polls (so the signal lands in a sleep) and a's row committed (so the count
    // below does not depend on timing).
    let polled =
        |p: &[String]| p.iter().filter(|p| **p == status).count() >= 3 && committed(&db, "a");
    let out = signal_when(&args, &server, polled, "-TERM").await;
    assert_eq!(out.code, 143, "{out:?}");
    assert!(
        out.stderr.contains("1 fetched, 1 pending"),
        "{}",
        out.stderr
    );
    assert!(!paths(&server).await.contains(&format!("{status}/b")));
    let rows = query(&db, "SELECT custom_id, fetch_state FROM results ORDER BY 1");
    assert_eq!(rows[0]["fetch_state"], "fetched");
    assert_eq!(rows[1]["fetch_state"], "pending");
    assert_eq!(
        query(&db, "SELECT outcome FROM runs")[0]["outcome"],
        "terminated"
    );
}
