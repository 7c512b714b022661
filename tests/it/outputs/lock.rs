//! One writer per output: a second run on the same file exits 2 at once naming the other
//! process, or waits with `--wait-for-lock`; a killed holder never blocks the next run.

use std::process::Output as ProcessOutput;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use super::*;

fn seen(out: ProcessOutput) -> Output {
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Two runs of the binary started together on one output: exactly one exits 2 before
/// making any request, naming the output and the other's PID; the other exports every id
/// once. Returns the server for the request counts.
async fn two_runs_race(out_name: &str, extra: &[&str]) -> (tempfile::TempDir, TestApi) {
    let b = "batch_race";
    let ids = ids(100);
    let server = TestApi::start().await;
    let gate = Gate::mount(&server, b, completed_batch(b, &ids)).await;
    server.completed(b, &ids).await;
    let dir = tempfile::tempdir().unwrap();
    let out = at(dir.path(), out_name);
    let base = base(&server);
    let first = fetch_cmd(b, &out, &base, extra).spawn().unwrap();
    let second = fetch_cmd(b, &out, &base, extra).spawn().unwrap();
    let pids = [first.id().unwrap(), second.id().unwrap()];
    let mut a = tokio::spawn(first.wait_with_output());
    let mut b_run = tokio::spawn(second.wait_with_output());
    // Whichever got the lock is held at its status request, so only the other can end.
    let (loser, ended) = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::select! {
            o = &mut a => (0, o),
            o = &mut b_run => (1, o),
        }
    })
    .await
    .expect("neither run ended while the other one held the output: both got the lock?");
    let loser_out = seen(ended.unwrap().unwrap());
    gate.open();
    let winner = 1 - loser;
    let rest = if winner == 0 { a } else { b_run };
    let winner_out = seen(rest.await.unwrap().unwrap());

    assert_eq!(loser_out.code, 2, "{loser_out:?}");
    assert_no_key(&loser_out);
    let msg = &loser_out.stderr;
    assert!(msg.contains(out.to_str().unwrap()), "{msg}");
    assert!(msg.contains(&format!("PID {}", pids[winner])), "{msg}");
    assert!(msg.contains("--wait-for-lock"), "{msg}");
    assert_eq!(winner_out.code, 0, "{winner_out:?}");
    let results = result_requests(&server, b).await;
    let all = server.received_requests().await.unwrap().len();
    assert_eq!(
        results,
        ids.len(),
        "every id requested once by the winner only"
    );
    assert!(all as f64 <= 1.1 * ids.len() as f64, "{all} requests");
    assert_eq!(requests_to(&server, &format!("/v1/batches/{b}")).await, 1);
    assert!(!lock_path(&out).exists(), "the lock file is removed");
    (dir, server)
}

fn lock_path(out: &Path) -> PathBuf {
    let name = out.file_name().unwrap().to_string_lossy();
    out.with_file_name(format!(".{name}.lock"))
}

#[tokio::test(flavor = "multi_thread")]
async fn two_runs_on_one_sqlite_file_one_exits_2_naming_the_other_and_each_id_lands_once() {
    let (dir, _server) = two_runs_race("race.sqlite", &[]).await;
    let (counts, fetched) = id_counts(&at(dir.path(), "race.sqlite"), "batch_race");
    assert_eq!(counts.len(), 100);
    assert!(counts.iter().all(|(_, n)| *n == 1), "{counts:?}");
    assert_eq!(fetched, 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_runs_on_one_parquet_file_one_exits_2_naming_the_other_and_each_id_lands_once() {
    let (dir, _server) = two_runs_race("race.parquet", &[]).await;
    let db = at(dir.path(), "check.sqlite");
    let out = run(&[
        "load",
        at(dir.path(), "race.parquet").to_str().unwrap(),
        "--into",
        db.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    let (counts, fetched) = id_counts(&db, "batch_race");
    assert_eq!(counts.len(), 100);
    assert!(counts.iter().all(|(_, n)| *n == 1), "{counts:?}");
    assert_eq!(fetched, 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_held_by_a_killed_run_does_not_block_the_next_one() {
    let b = "batch_kill";
    let ids = ids(20);
    let server = TestApi::start().await;
    let gate = Gate::mount(&server, b, completed_batch(b, &ids)).await;
    server.completed(b, &ids).await;
    let dir = tempfile::tempdir().unwrap();
    let out = at(dir.path(), "k.sqlite");
    let base = base(&server);
    let mut held = fetch_cmd(b, &out, &base, &[]).spawn().unwrap();
    gate.until_hit().await;
    let pid = held.id().unwrap();
    let recorded = std::fs::read_to_string(lock_path(&out)).unwrap();
    assert_eq!(
        recorded.trim(),
        pid.to_string(),
        "the lock file names its holder"
    );
    held.start_kill().unwrap(); // SIGKILL: no cleanup runs
    held.wait().await.unwrap();
    assert!(
        lock_path(&out).exists(),
        "a killed run leaves its lock file"
    );
    gate.open();

    let next = output(fetch_cmd(b, &out, &base, &["--json"])).await;
    assert_eq!(next.code, 0, "{next:?}");
    assert_eq!(summary(&next)["fetched"], 20);
    assert!(!lock_path(&out).exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_for_lock_waits_for_the_other_run_and_then_resumes_from_what_it_wrote() {
    let b = "batch_wait";
    let ids = ids(30);
    let server = TestApi::start().await;
    let gate = Gate::mount(&server, b, completed_batch(b, &ids)).await;
    server.completed(b, &ids).await;
    let dir = tempfile::tempdir().unwrap();
    let out = at(dir.path(), "w.sqlite");
    let base = base(&server);
    let first = fetch_cmd(b, &out, &base, &[]).spawn().unwrap();
    let first_pid = first.id().unwrap();
    gate.until_hit().await;
    let mut second = fetch_cmd(b, &out, &base, &["--wait-for-lock", "--json"])
        .spawn()
        .unwrap();
    // Read the waiting run's stderr until it says it waits, keeping every line.
    let mut lines = BufReader::new(second.stderr.take().unwrap()).lines();
    let mut said = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        let waiting = line.contains("waiting");
        said.push(line);
        if waiting {
            break;
        }
    }
    let said = said.join("\n");
    assert!(said.contains(&format!("PID {first_pid}")), "{said}");
    gate.open();
    let first = seen(first.wait_with_output().await.unwrap());
    assert_eq!(first.code, 0, "{first:?}");
    let mut rest = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push_str(&line);
        rest.push('\n');
    }
    let second = second.wait_with_output().await.unwrap();
    assert_eq!(second.status.code(), Some(0), "{said}\n{rest}");
    let s: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(s["skipped"], 30, "{s}");
    assert_eq!(
        result_requests(&server, b).await,
        30,
        "nothing fetched twice"
    );
    let (counts, fetched) = id_counts(&out, b);
    assert_eq!((counts.len(), fetched), (30, 30));
}

#[tokio::test(flavor = "multi_thread")]
async fn load_into_a_file_another_run_is_writing_exits_2() {
    let b = "batch_ld";
    let ids = ids(5);
    let server = TestApi::start().await;
    let gate = Gate::mount(&server, b, completed_batch(b, &ids)).await;
    server.completed(b, &ids).await;
    let dir = tempfile::tempdir().unwrap();
    let pq = at(dir.path(), "in.parquet");
    let base = base(&server);
    gate.open();
    let out = output(fetch_cmd(b, &pq, &base, &[])).await;
    assert_eq!(out.code, 0, "{out:?}");
    let db = at(dir.path(), "busy.sqlite");
    let closed = Gate::mount(&server, "batch_other", completed_batch("batch_other", &ids)).await;
    let holder = fetch_cmd("batch_other", &db, &base, &[]).spawn().unwrap();
    closed.until_hit().await;
    let load = run(&["load", pq.to_str().unwrap(), "--into", db.to_str().unwrap()]).await;
    assert_eq!(load.code, 2, "{load:?}");
    assert!(
        load.stderr
            .contains(&format!("PID {}", holder.id().unwrap())),
        "{}",
        load.stderr
    );
    closed.open();
    holder.wait_with_output().await.unwrap();
}
