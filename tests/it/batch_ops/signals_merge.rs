//! A signal during the final merge of a large Parquet export: the run stops within the
//! bound with 130 / 143, the previous file is left byte for byte, the fetched rows stay in
//! the checkpoint, and a rerun merges them without a request.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use parquet::arrow::ArrowWriter;
use parquet::file::reader::{FileReader, SerializedFileReader};

use super::*;
use crate::harness::*;
use sail_export::row::{FetchState, Row};
use sail_export::sink::parquet::{schema, writer_properties};

/// Rows in the previous export: the size of the report, and enough that the
/// merge of a debug build runs for seconds.
const OLD_ROWS: usize = 200_000;
/// Longest time from the signal to the exit.
const BOUND: Duration = Duration::from_secs(2);

/// Writes a sail-export Parquet export of `n` fetched rows of batch `batch` at `path`,
/// sorted as the sink writes them.
fn big_export(path: &Path, batch: &str, n: usize) {
    let file = File::create(path).unwrap();
    let mut w =
        ArrowWriter::try_new(file, schema::schema(), Some(writer_properties(None))).unwrap();
    let chunk = 4096;
    for start in (0..n).step_by(chunk) {
        let rows: Vec<Row> = (start..(start + chunk).min(n))
            .map(|i| {
                let mut r = Row::bare(batch, &format!("old-{i:07}"), FetchState::Fetched);
                r.http_status = Some(200);
                r.input_tokens = Some(i as i64 % 997);
                r.output_tokens = Some(i as i64 % 113);
                r.model = Some("zai-org/GLM-5.3".into());
                r.output_text = Some(format!("answer {i}: {}", "lorem ipsum ".repeat(i % 16)));
                r
            })
            .collect();
        let order: Vec<usize> = (0..rows.len()).collect();
        w.write(&schema::to_batch(&rows, &order)).unwrap();
    }
    w.close().unwrap();
}

/// The rows of the Parquet file at `path`.
fn rows_in(path: &Path) -> i64 {
    let r = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
    r.metadata().file_metadata().num_rows()
}

/// Runs `args`, sends `signal` as soon as the final merge has begun (its temporary file
/// `tmp` exists), and returns the run's output and the time from the signal to its exit.
async fn signal_in_merge(args: &[&str], tmp: &Path, signal: &str) -> (Output, Duration) {
    // Logs at `warn`: the output is read only at the end, and trace logs could fill the pipe.
    let mut cmd = command(args);
    let child = cmd
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("start sail-export");
    let pid = child.id().expect("pid").to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !tmp.exists() {
        assert!(Instant::now() < deadline, "the merge never began");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let sent = Instant::now();
    let killed = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the run did not stop within 30 s of the signal")
        .unwrap();
    let took = sent.elapsed();
    let out = Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    (out, took)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signal_during_the_final_merge_keeps_the_old_file_and_the_checkpoint() {
    let server = TestApi::start().await;
    let b = "batch_merge";
    let new: Vec<String> = (0..5).map(|i| format!("new-{i}")).collect();
    let refs: Vec<&str> = new.iter().map(String::as_str).collect();
    let all: Vec<(&str, &str)> = refs.iter().map(|i| (*i, "COMPLETED")).collect();
    serve_status(&server, b, vec![batch_body(b, 60, &all)]).await;
    serve_completed(&server, b, &refs).await;
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("big.parquet");
    let made = Instant::now();
    big_export(&out_path, b, OLD_ROWS);
    eprintln!("previous export written in {:?}", made.elapsed());
    let before = std::fs::read(&out_path).unwrap();
    let tmp: PathBuf = dir.path().join(".big.parquet.tmp");
    let parts = dir.path().join(".big.parquet.parts");
    let m = manifest(dir.path(), &refs);
    let base = base(&server);
    let args = fetch_args(b, m.to_str().unwrap(), out_path.to_str().unwrap(), &base);

    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let (out, took) = signal_in_merge(&args, &tmp, signal).await;
        eprintln!("{signal}: stopped {took:?} after the signal");
        assert_eq!(out.code, code, "{out:?}");
        assert!(
            took <= BOUND,
            "{signal}: {took:?} from the signal to the exit"
        );
        assert!(out.stderr.contains("rerun"), "{}", out.stderr);
        assert!(
            std::fs::read(&out_path).unwrap() == before,
            "{signal}: the previous file changed"
        );
        assert!(
            !tmp.exists(),
            "{signal}: the unfinished merge is left behind"
        );
        let kept = std::fs::read_dir(&parts).map_or(0, |d| d.count());
        assert!(kept > 0, "{signal}: the checkpoint is gone");
    }
    // The second run requested nothing: the rows were in the checkpoint.
    let results = |p: &[String]| p.iter().filter(|p| p.matches('/').count() == 4).count();
    assert_eq!(results(&paths(&server).await), new.len());

    let merged = Instant::now();
    let out = run(&args).await;
    eprintln!("the rerun merged in {:?}", merged.elapsed());
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        results(&paths(&server).await),
        new.len(),
        "a rerun refetched"
    );
    assert_eq!(rows_in(&out_path), (OLD_ROWS + new.len()) as i64);
    assert!(!parts.exists() && !tmp.exists());
}

#[test]
fn a_cancelled_finish_leaves_the_output_and_the_checkpoint_for_the_next_run() {
    use sail_export::cancel::{is_cancelled, Cancel};
    use sail_export::sink::{self, Format, RunStart};
    use sail_export::summary::Summary;

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.parquet");
    big_export(&out, "b", 1000);
    let before = std::fs::read(&out).unwrap();
    let start = RunStart {
        batch_id: "b".into(),
        started_at: 0,
        options_json: "{}".into(),
    };
    let new: Vec<Row> = (0..10)
        .map(|i| Row::bare("b", &format!("new-{i}"), FetchState::Fetched))
        .collect();

    let mut s = sink::open(&out, Format::Parquet).unwrap();
    let cancel = Cancel::default();
    s.set_cancel(cancel.clone());
    s.begin_run(&start).unwrap();
    s.write(&new).unwrap();
    cancel.cancel();
    let err = s.finish(&Summary::default()).unwrap_err();
    assert!(is_cancelled(&err), "{err:#}");
    drop(s);
    assert!(std::fs::read(&out).unwrap() == before, "the output changed");
    assert!(!dir.path().join(".c.parquet.tmp").exists());

    // The next run finds the rows in the checkpoint and merges them.
    let mut s = sink::open(&out, Format::Parquet).unwrap();
    assert_eq!(s.fetched_ids("b").unwrap().len(), 1010);
    s.begin_run(&start).unwrap();
    s.finish(&Summary::default()).unwrap();
    assert_eq!(rows_in(&out), 1010);
    assert!(!dir.path().join(".c.parquet.parts").exists());
}
