//! Datasets on object storage, against a real S3-compatible server on loopback (moto):
//! export, resume, `sync`, pyarrow reading the bucket with Hive partitioning, `cost` and
//! `load` from the URL; a missing bucket, wrong credentials and an unreachable endpoint
//! are clear errors before any request, with nothing left behind.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

pub(super) const BUCKET: &str = "sail-exports";

/// A moto server on a free loopback port, stopped on drop.
pub(super) struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts moto; with `auth`, it checks credentials (none are known, so every key is
    /// wrong).
    pub(super) fn start(python: &Path, auth: bool) -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(python);
        cmd.args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        if auth {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
        }
        let child = cmd.spawn().expect("start moto.server");
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    pub(super) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs boto3 against this server: `code` sees `s3` (a client) and `sys.argv`.
    pub(super) fn boto(&self, python: &Path, code: &str) -> Value {
        let script = format!(
            "import json, sys, boto3\ns3 = boto3.client('s3', endpoint_url=sys.argv[1], \
             aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1')\n{code}"
        );
        let out = Command::new(python)
            .args(["-c", &script, &self.endpoint()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    /// Every key in the bucket.
    fn keys(&self, python: &Path) -> Vec<String> {
        let v = self.boto(
            python,
            &format!(
                "r = s3.list_objects_v2(Bucket='{BUCKET}')\n\
                 print(json.dumps([o['Key'] for o in r.get('Contents', [])]))"
            ),
        );
        serde_json::from_value(v).unwrap()
    }
}

/// `sail-export ARGS` against `sim`, with the S3 environment of `endpoint` and a cache
/// folder of the test's own.
fn s3_cmd(sim: &SimHandle, endpoint: &str, cache: &Path, args: &[&str]) -> tokio::process::Command {
    s3_env(sail(sim, args), endpoint, cache)
}

/// `cmd` with the S3 environment of `endpoint` and the cache folder `cache`.
pub(super) fn s3_env(
    mut cmd: tokio::process::Command,
    endpoint: &str,
    cache: &Path,
) -> tokio::process::Command {
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("XDG_CACHE_HOME", cache);
    cmd
}

const PYARROW_S3: &str = r#"
import json, sys, collections
import pyarrow.dataset as ds, pyarrow.fs as fs
s3 = fs.S3FileSystem(endpoint_override=sys.argv[1], scheme="http", access_key="test",
                     secret_key="test", region="us-east-1")
d = ds.dataset(sys.argv[2], filesystem=s3, format="parquet", partitioning="hive")
t = d.to_table(columns=["batch_id", "custom_id"]).to_pylist()
per = collections.defaultdict(set); rows = collections.Counter()
for r in t:
    per[r["batch_id"]].add(r["custom_id"]); rows[r["batch_id"]] += 1
print(json.dumps({b: {"rows": rows[b], "ids": len(ids)} for b, ids in per.items()}))
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_dataset_on_s3_exports_resumes_syncs_and_reads_back() {
    let Some(python) = python() else { return };
    let moto = Moto::start(&python, false);
    moto.boto(&python, &format!("s3.create_bucket(Bucket='{BUCKET}')"));
    let sim = sim(300, 2, false).await;
    let ids = batch_ids(&sim);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("s3://{BUCKET}/exports/");
    let ep = moto.endpoint();
    let go = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        output(s3_cmd(&sim, &ep, dir.path(), &args))
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();

    let out = go(s(&["fetch", &ids[0], "-o", &url, "--json"])).await;
    assert!(matches!(out.code, 0 | 3), "{out:?}");
    let first = summary(&out);
    let keys = moto.keys(&python);
    let data: Vec<&String> = keys.iter().filter(|k| k.ends_with(".parquet")).collect();
    assert_eq!(data.len(), 1, "{keys:?}");
    assert!(
        data[0].starts_with(&format!("exports/batch_id={}/part-", ids[0])),
        "{keys:?}"
    );

    // A rerun asks only what is not in the bucket: the ids whose request failed.
    let before = result_gets(&sim);
    let out = go(s(&["fetch", &ids[0], "-o", &url, "--json"])).await;
    let again = summary(&out);
    let failed = first["not_found"].as_u64().unwrap() + first["error"].as_u64().unwrap();
    assert_eq!(result_gets(&sim) - before, failed, "{again}");
    assert_eq!(again["skipped"], first["fetched"]);

    let out = go(s(&["sync", "-o", &url, "--json"])).await;
    assert!(matches!(out.code, 0 | 3), "{out:?}");

    let counts = py_json(PYARROW_S3, &[&ep, &format!("{BUCKET}/exports")]).unwrap();
    for id in &ids {
        assert_eq!(counts[id]["rows"], 300, "{counts}");
        assert_eq!(counts[id]["ids"], 300, "{counts}");
    }

    // `cost` and `load` read the URL; both see the same rows.
    let db = dir.path().join("from_s3.sqlite");
    let local = |args: &[&str]| output(s3_env(command(args), &ep, dir.path()));
    let out = local(&["load", &url, "-o", db.to_str().unwrap()]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(query(&db, "SELECT count(*) AS n FROM results")[0]["n"], 600);
    let cost_json = |out: Output| {
        assert_eq!(out.code, 0, "{out:?}");
        serde_json::from_str::<Value>(&out.stdout).unwrap()["total"].clone()
    };
    let from_s3 = cost_json(local(&["cost", &url, "--format", "json"]).await);
    let from_db = cost_json(run(&["cost", db.to_str().unwrap(), "--format", "json"]).await);
    assert_eq!(from_s3, from_db);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_bucket_wrong_keys_or_no_endpoint_stop_before_any_request() {
    let Some(python) = python() else { return };
    let open = Moto::start(&python, false);
    open.boto(&python, &format!("s3.create_bucket(Bucket='{BUCKET}')"));
    let checking = Moto::start(&python, true);
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sim = sim(50, 1, false).await;
    let b = sim.batch_id().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            open.endpoint(),
            "s3://no-such-bucket/x/".to_owned(),
            "NoSuchBucket",
        ),
        (
            checking.endpoint(),
            format!("s3://{BUCKET}/x/"),
            "InvalidAccessKeyId",
        ),
        (
            format!("http://127.0.0.1:{closed}"),
            format!("s3://{BUCKET}/x/"),
            "onnect",
        ),
    ];
    for (endpoint, url, says) in cases {
        let before = sim.stats().requests;
        let out = output(s3_cmd(
            &sim,
            &endpoint,
            dir.path(),
            &["fetch", &b, "-o", &url],
        ))
        .await;
        assert!(matches!(out.code, 1 | 2), "{url}: {out:?}");
        assert!(out.stderr.contains(says), "{url}: {}", out.stderr);
        assert!(
            out.stderr.contains(&url.trim_end_matches('/').to_string()),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("<?xml"), "{}", out.stderr);
        assert_eq!(sim.stats().requests, before, "no request to the API");
    }
    assert!(open.keys(&python).is_empty(), "nothing written");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_killed_while_exporting_to_s3_publishes_nothing_and_the_rerun_resumes() {
    let Some(python) = python() else { return };
    let moto = Moto::start(&python, false);
    moto.boto(&python, &format!("s3.create_bucket(Bucket='{BUCKET}')"));
    let sim = sim_at(1500, 1, false, Duration::from_millis(5)).await;
    let b = sim.batch_id().to_owned();
    let cache = tempfile::tempdir().unwrap();
    let url = format!("s3://{BUCKET}/killed/");
    let kill = s3_cmd(
        &sim,
        &moto.endpoint(),
        cache.path(),
        &["fetch", &b, "-o", &url, "-j", "4"],
    );
    let asked_before = kill_after(&sim, kill, 300).await;
    assert!(
        moto.keys(&python).is_empty(),
        "nothing visible from a killed run"
    );

    let out = output(s3_cmd(
        &sim,
        &moto.endpoint(),
        cache.path(),
        &["fetch", &b, "-o", &url, "--json"],
    ))
    .await;
    assert!(matches!(out.code, 0 | 3), "{out:?}");
    assert_resumed(&out, result_gets(&sim) - asked_before, asked_before);
    let keys = moto.keys(&python);
    assert_eq!(
        keys.iter().filter(|k| k.ends_with(".parquet")).count(),
        1,
        "{keys:?}"
    );
    let counts = py_json(PYARROW_S3, &[&moto.endpoint(), &format!("{BUCKET}/killed")]).unwrap();
    assert_eq!(counts[&b]["rows"], 1500, "{counts}");
    assert_eq!(counts[&b]["ids"], 1500, "{counts}");
}

/// Sends `signal` (`-STOP`, `-CONT`, `-TERM`) to the process `pid`.
fn signal(pid: u32, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill {signal} {pid}");
}

/// Every file under `dir` whose name ends with `suffix`.
fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_an_upload_to_a_store_that_hangs_exits_143_at_once() {
    let Some(python) = python() else { return };
    let moto = Moto::start(&python, false);
    moto.boto(&python, &format!("s3.create_bucket(Bucket='{BUCKET}')"));
    let sim = sim(300, 1, false).await;
    let b = sim.batch_id().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("s3://{BUCKET}/exports/");
    let ep = moto.endpoint();
    let args = ["fetch", b.as_str(), "-o", &url, "--json"];
    // Logs at `warn`: its output is read only at the end, and trace logs would fill the pipe.
    let mut cmd = s3_cmd(&sim, &ep, dir.path(), &args);
    let child = cmd.env("RUST_LOG", "warn").spawn().unwrap();
    // Once results are requested the store has been read; from then on it does not answer.
    let deadline = Instant::now() + Duration::from_secs(30);
    while result_gets(&sim) == 0 {
        assert!(Instant::now() < deadline, "no result was requested");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    signal(moto.child.id(), "-STOP");
    // The file to upload is made; give the upload time to begin and hang.
    while files_ending(dir.path(), ".parquet.tmp").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the file to upload was never made"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = Instant::now();
    signal(child.id().unwrap(), "-TERM");
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await;
    let took = sent.elapsed();
    signal(moto.child.id(), "-CONT");
    let out = out.expect("no exit within 30 s of SIGTERM").unwrap();
    assert_eq!(out.status.code(), Some(143), "{out:?}");
    let first: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(first["stopped"], "terminated", "{first}");
    assert!(
        took <= Duration::from_secs(2),
        "{took:?} from SIGTERM to the exit"
    );
    assert!(
        !files_ending(dir.path(), ".arrow").is_empty(),
        "the checkpoint is gone"
    );

    // The rerun requests only the ids that failed and publishes the checkpoint: each id
    // once in the bucket.
    let before = result_gets(&sim);
    let out = output(s3_cmd(&sim, &ep, dir.path(), &args)).await;
    assert!(matches!(out.code, 0 | 3), "{out:?}");
    let failed = first["not_found"].as_u64().unwrap() + first["error"].as_u64().unwrap();
    assert_eq!(
        result_gets(&sim) - before,
        failed,
        "the rerun requested again"
    );
    let counts = py_json(PYARROW_S3, &[&ep, &format!("{BUCKET}/exports")]).unwrap();
    assert_eq!(counts[&b]["rows"], 300, "{counts}");
    assert_eq!(counts[&b]["ids"], 300, "{counts}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_while_the_store_does_not_answer_at_the_start_exits_143_at_once() {
    let Some(python) = python() else { return };
    let moto = Moto::start(&python, false);
    moto.boto(&python, &format!("s3.create_bucket(Bucket='{BUCKET}')"));
    signal(moto.child.id(), "-STOP");
    let sim = sim(20, 1, false).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("s3://{BUCKET}/exports/");
    let args = ["fetch", sim.batch_id(), "-o", &url, "--json"];
    let mut cmd = s3_cmd(&sim, &moto.endpoint(), dir.path(), &args);
    let child = cmd.env("RUST_LOG", "warn").spawn().unwrap();
    // The run is waiting for the store's first answer.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent = Instant::now();
    signal(child.id().unwrap(), "-TERM");
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await;
    let took = sent.elapsed();
    signal(moto.child.id(), "-CONT");
    let out = out.expect("no exit within 30 s of SIGTERM").unwrap();
    assert_eq!(out.status.code(), Some(143), "{out:?}");
    assert!(
        took <= Duration::from_secs(2),
        "{took:?} from SIGTERM to the exit"
    );
    assert_eq!(result_gets(&sim), 0);
}
