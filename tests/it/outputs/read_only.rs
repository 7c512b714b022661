//! Outputs the user cannot write, run as an unprivileged user (the tests run as root, whom
//! permissions do not stop): `cost` reports on an export in a folder only root can write,
//! finished or with a writer's commits still in its WAL; `fetch` into such a folder says
//! which path, which phase and what to do.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::cost::{cost_json, export, mixed};
use crate::harness::*;

/// The user and group `nobody` on Linux.
const NOBODY: &str = "65534";

/// Runs the binary as `nobody`, or says why it cannot (no `setpriv`, or not root).
async fn as_nobody(args: &[&str]) -> Result<Output, String> {
    let mut cmd = tokio::process::Command::new("setpriv");
    cmd.args([
        &format!("--reuid={NOBODY}"),
        &format!("--regid={NOBODY}"),
        "--clear-groups",
        env!("CARGO_BIN_EXE_sail-export"),
    ])
    .args(args)
    .env_remove("RUST_LOG")
    .env("SAIL_API_KEY", KEY)
    .stdin(std::process::Stdio::null());
    let out = cmd
        .output()
        .await
        .map_err(|e| format!("cannot run setpriv: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if stderr.starts_with("setpriv:") {
        return Err(stderr);
    }
    Ok(Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    })
}

/// A folder everyone can read and only root can write, holding the export `x.sqlite`.
fn read_only_folder() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "x.sqlite", &mixed());
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    (dir, db)
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn cost_reports_on_an_export_in_a_folder_the_user_cannot_write() {
    let (dir, db) = read_only_folder();
    // The figures, from a copy: a report by root in the folder would leave the `-wal` and
    // `-shm` files an unprivileged reader could then use.
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("x.sqlite");
    std::fs::copy(&db, &copy).unwrap();
    let want = cost_json(&copy, &[]).await;
    let bytes = std::fs::read(&db).unwrap();
    let files = listing(dir.path());
    let out = match as_nobody(&["cost", db.to_str().unwrap(), "--format", "json"]).await {
        Ok(out) => out,
        Err(why) => {
            eprintln!("skipping the read-only report test: cannot run as nobody ({why})");
            return;
        }
    };
    assert_eq!(out.code, 0, "{out:?}");
    let got: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(got, want);
    assert_eq!(
        std::fs::read(&db).unwrap(),
        bytes,
        "the export is unchanged"
    );
    assert_eq!(listing(dir.path()), files, "nothing was added beside it");
}

/// With a writer's commits in the WAL the file alone is not the export: the report reads
/// the WAL through the writer's shared-memory file (read-only to this user).
#[tokio::test]
async fn cost_reports_on_an_export_another_user_is_writing() {
    let (dir, db) = read_only_folder();
    // A writer at work: its commit is in the WAL, not yet in the file.
    let writer = rusqlite::Connection::open(&db).unwrap();
    writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    writer
        .execute("DELETE FROM results WHERE batch_id = 'batch_b'", [])
        .unwrap();
    for f in listing(dir.path()) {
        let p = dir.path().join(f);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let want = cost_json(&db, &[]).await;
    assert_eq!(
        want["not_fetched_requests"], 0,
        "the writer's commit is seen"
    );
    let out = match as_nobody(&["cost", db.to_str().unwrap(), "--format", "json"]).await {
        Ok(out) => out,
        Err(why) => {
            eprintln!("skipping the read-only report test: cannot run as nobody ({why})");
            return;
        }
    };
    assert_eq!(out.code, 0, "{out:?}");
    let got: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(got, want);
    drop(writer);
}

#[tokio::test]
async fn fetch_into_a_folder_the_user_cannot_write_names_the_path_the_phase_and_the_fix() {
    let (dir, _) = read_only_folder();
    let out_path = dir.path().join("new.sqlite");
    let shown = out_path.display().to_string();
    // Nothing listens on port 9 of loopback: the run must end before any request anyway.
    let args = [
        "fetch",
        "batch_ro",
        "-o",
        &shown,
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--json",
    ];
    let out = match as_nobody(&args).await {
        Ok(out) => out,
        Err(why) => {
            eprintln!("skipping the read-only fetch test: cannot run as nobody ({why})");
            return;
        }
    };
    assert_eq!(out.code, 1, "{out:?}");
    let said = format!(
        "writing '{shown}' (locking): permission denied — make the file and its folder \
         writable (or choose another -o/--out) and rerun"
    );
    assert!(
        out.stderr.contains(&format!("error: {said}")),
        "{}",
        out.stderr
    );
    let json: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(json["fatal_error"], said.as_str());
    assert!(!out_path.exists());
}
