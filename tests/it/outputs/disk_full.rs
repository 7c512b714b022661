//! A disk that fills up mid-run, for real: the output lives on a small tmpfs. The run stops
//! requesting at the first failed commit, says which file, in which phase, why and what to
//! do (once, without the OS error twice), prints its JSON summary with the error on
//! stdout, exits 1 and records the outcome in the `runs` row; a rerun with room resumes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use wiremock::{Request, Respond, ResponseTemplate};

use crate::harness::*;

/// A tmpfs of `size` mounted on a fresh folder, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// [`SmallDisk::mount`], or `None` with the reason printed: the test is skipped where
    /// no tmpfs can be mounted.
    fn mount_or_skip(size: &str) -> Option<SmallDisk> {
        SmallDisk::mount(size)
            .map_err(|why| {
                eprintln!("skipping the disk-full test: cannot mount a small tmpfs ({why})")
            })
            .ok()
    }

    /// Mounts it, or says why not (mounting needs root, or CAP_SYS_ADMIN).
    fn mount(size: &str) -> Result<SmallDisk, String> {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        match out.status.success() {
            true => Ok(SmallDisk { dir }),
            false => Err(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Makes room: the same files on a larger disk.
    fn grow(&self, size: &str) {
        let done = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(done.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// Every result answers 200 with ~24 KB of text that does not compress, after a few ms.
struct BigBodies;

impl Respond for BigBodies {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let id = req.url.path().rsplit('/').next().unwrap_or_default();
        let mut body = completed(id, 10, 0, 5, 0);
        let mut x: u64 = id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let text: String = (0..24_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'a' + (x % 26) as u8)
            })
            .collect();
        body["output"][1]["content"][0]["text"] = Value::from(text);
        ResponseTemplate::new(200)
            .set_body_json(body)
            .set_delay(Duration::from_millis(3))
    }
}

async fn big_server() -> TestApi {
    let server = TestApi::start().await;
    server
        .get_matching("^/v1/batches/[^/]+/.+$", BigBodies)
        .await;
    server.knows_every_batch().await;
    server
}

fn many_ids(dir: &Path, n: usize) -> PathBuf {
    let ids: Vec<String> = (0..n).map(|i| format!("id{i:05}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    manifest(dir, &refs)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_stops_the_run_at_the_failed_commit_and_says_where_why_and_what_to_do() {
    let Some(disk) = SmallDisk::mount_or_skip("4m") else {
        return;
    };
    let server = big_server().await;
    let work = tempfile::tempdir().unwrap();
    let total = 2_000;
    let m = many_ids(work.path(), total);
    let db = disk.path().join("full.sqlite");
    let shown = db.display().to_string();

    let out = fetch_at(&base(&server), "batch_full", &m, &db, &["-j", "4"]).await;
    assert_eq!(out.code, 1, "{out:?}");

    // The message: the path, the phase, the cause once, the fix, what is kept.
    let said = format!(
        "error: writing '{shown}' (committing rows): no space left on device — free space and \
         rerun: the "
    );
    assert!(out.stderr.contains(&said), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("rows committed before are kept in '{shown}'")),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("os error"), "{}", out.stderr);
    assert!(!out.stderr.contains("Error code 13"), "{}", out.stderr);

    // --json: one object on stdout, the error and the counts the output keeps.
    let json = summary(&out);
    let fatal = json["fatal_error"].as_str().expect("fatal_error");
    assert!(fatal.starts_with(&said[7..]), "{json}");
    assert_eq!(json["exit_code"], 1, "{json}");
    let kept: i64 = query(
        &db,
        "SELECT count(*) AS n FROM results WHERE fetch_state = 'fetched'",
    )[0]["n"]
        .as_i64()
        .unwrap();
    assert!(kept > 0, "some rows fit before the disk filled");
    assert_eq!(json["fetched"], kept, "{json}");
    assert_eq!(
        json["not_attempted"].as_i64(),
        Some(total as i64 - kept),
        "{json}"
    );
    assert!(
        fatal.contains(&format!("the {kept} rows committed before")),
        "{json}"
    );

    // Requests stopped at the failed commit: the rows of the chunk that failed, the next
    // chunk gathered meanwhile and those in flight, not the remaining ids.
    let requested = result_requests(&server, "batch_full").await as i64;
    assert!(
        requested < kept + 120,
        "{requested} result requests for {kept} rows kept"
    );

    // The run is recorded as failed, with its counts.
    let runs = query(&db, "SELECT outcome, fetched, finished_at FROM runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["outcome"], "failed", "{runs:?}");
    assert_eq!(runs[0]["fetched"], kept, "{runs:?}");

    // With room again, a rerun resumes from what was kept.
    disk.grow("256m");
    let again = fetch_at(&base(&server), "batch_full", &m, &db, &["-j", "8"]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(summary(&again)["skipped"], kept);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_in_a_parquet_checkpoint_names_the_output_and_the_phase() {
    let Some(disk) = SmallDisk::mount_or_skip("3m") else {
        return;
    };
    let server = big_server().await;
    let work = tempfile::tempdir().unwrap();
    let m = many_ids(work.path(), 2_000);
    let out_path = disk.path().join("full.parquet");
    let shown = out_path.display().to_string();

    let out = fetch_at(&base(&server), "batch_pq", &m, &out_path, &["-j", "4"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    let said = format!(
        "error: writing '{shown}' (checkpoint): no space left on device — free space and rerun: \
         the "
    );
    assert!(out.stderr.contains(&said), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("rows fetched are kept in the checkpoint"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("os error"), "{}", out.stderr);
    let json = summary(&out);
    assert!(json["fatal_error"].as_str().is_some(), "{json}");
    let requested = result_requests(&server, "batch_pq").await as u64;
    let fetched = json["fetched"].as_u64().unwrap();
    assert!(
        requested < fetched + 120,
        "{requested} result requests for {fetched} rows kept"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_in_the_final_merge_keeps_the_checkpoint_for_the_rerun() {
    // ~2.5 MB of checkpoint parts fit; the merged file (~1.5 MB more) does not.
    let Some(disk) = SmallDisk::mount_or_skip("3500k") else {
        return;
    };
    let server = big_server().await;
    let work = tempfile::tempdir().unwrap();
    let m = many_ids(work.path(), 100);
    let out_path = disk.path().join("merge.parquet");
    let shown = out_path.display().to_string();

    let args = ["-j", "8", "--no-raw"];
    let out = fetch_at(&base(&server), "batch_m", &m, &out_path, &args).await;
    assert_eq!(out.code, 1, "{out:?}");
    let said = format!(
        "error: writing '{shown}' (final merge): no space left on device — free space and \
         rerun: the 100 rows fetched are kept in the checkpoint"
    );
    assert!(out.stderr.contains(&said), "{}", out.stderr);
    assert_eq!(summary(&out)["fetched"], 100);
    assert!(!out_path.exists(), "no half-written output");
    let left: Vec<String> = std::fs::read_dir(disk.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        left.iter().any(|n| n == ".merge.parquet.parts")
            && !left.iter().any(|n| n.ends_with(".tmp")),
        "{left:?}"
    );

    disk.grow("64m");
    let again = fetch_at(&base(&server), "batch_m", &m, &out_path, &args).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    let s = summary(&again);
    assert_eq!((&s["skipped"], &s["fetched"]), (&100.into(), &100.into()));
    assert_eq!(
        result_requests(&server, "batch_m").await,
        100,
        "nothing requested twice"
    );
}
