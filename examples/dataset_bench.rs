//! Dataset benchmark: one 100,000-id batch exported by the real `sail-export fetch` into a
//! dataset folder and into a dataset on an S3-compatible server on loopback (moto), beside
//! the single-file SQLite and Parquet outputs of the same batch. Wall time, client CPU and
//! peak RSS (the client runs from a small spawner process, `shared/spawn.rs`, so the peak
//! is its own, not its runner's), and what was written; every output is read back (DuckDB or pyarrow) and must hold one row per id.
//!
//! ```text
//! cargo run --release --example dataset_bench              # 100,000 ids, 20 ms, c=256
//! cargo run --release --example dataset_bench -- --quick   # 5,000 ids
//! cargo run --release --example dataset_bench -- --only s3  # the cases whose name has "s3"
//! ```
//!
//! Needs a Python with pyarrow, duckdb, boto3 and moto (`SAIL_EXPORT_PYTHON`, else
//! `.venv/bin/python`, which `cargo test` makes).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use sail_export::sim::{Sim, SimConfig, DEMO_KEY};

#[path = "shared/client.rs"]
mod client;
#[path = "shared/spawn.rs"]
mod spawn;
use client::build_client;
use spawn::{Job, Spawner};

const CASES: &[&str] = &[
    "sqlite file",
    "parquet file",
    "dataset local",
    "dataset s3",
    "dataset local raw",
    "dataset s3 raw",
];
const BUCKET: &str = "bench-exports";
const LATENCY_MS: u64 = 20;
const CONCURRENCY: u32 = 256;

fn main() -> anyhow::Result<()> {
    client::linux_only()?;
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(spawn::FLAG) {
        return spawn::serve();
    }
    let n: u64 = if args.iter().any(|a| a == "--quick") {
        5_000
    } else {
        100_000
    };
    if let Some(at) = args.iter().position(|a| a == "--case") {
        let case = &args[at + 1];
        let client = PathBuf::from(&args[at + 2]);
        let n: u64 = args[at + 3].parse()?;
        let line = tokio::runtime::Runtime::new()?.block_on(run_case(case, &client, n))?;
        println!("{line}");
        return Ok(());
    }
    let client = build_client()?;
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    println!(
        "machine: {cores} cores; client {}; {n} ids, simulator latency {LATENCY_MS} ms, -j {CONCURRENCY}, \
         ideal wall {:.2} s",
        client.display(),
        n as f64 * LATENCY_MS as f64 / 1000.0 / f64::from(CONCURRENCY)
    );
    println!(
        "{:<18} {:>7} {:>7} {:>9} {:>9} {:>7} {:>6} {:>7}",
        "case", "rows", "wall s", "results/s", "cpu µs/r", "rss MB", "files", "out MB"
    );
    let me = std::env::current_exe()?;
    let only = args
        .iter()
        .position(|a| a == "--only")
        .map(|i| args[i + 1].as_str());
    for case in CASES.iter().filter(|c| only.is_none_or(|o| c.contains(o))) {
        let out = Command::new(&me)
            .args([
                "--case",
                case,
                &client.display().to_string(),
                &n.to_string(),
            ])
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        match out.status.success() {
            true => print!("{text}"),
            false => println!(
                "{case:<18} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        }
    }
    Ok(())
}

/// Runs one case in this (runner) process: the simulator, moto when needed, one client.
async fn run_case(case: &str, client: &Path, n: u64) -> anyhow::Result<String> {
    // Started while this process is small, so the client's peak RSS is its own.
    let spawner = Spawner::start()?;
    let sim = Sim::start(SimConfig {
        latency: Duration::from_millis(LATENCY_MS),
        jitter: Duration::from_millis(LATENCY_MS / 10),
        finish_after: Some(Duration::from_millis(1)),
        ..SimConfig::new(n)
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let python = python();
    let moto = match case.contains("s3") {
        true => Some(Moto::start(&python)?),
        false => None,
    };
    if let Some(m) = &moto {
        m.make_bucket().await?;
    }
    let out = match case {
        "sqlite file" => dir.path().join("out.sqlite").display().to_string(),
        "parquet file" => dir.path().join("out.parquet").display().to_string(),
        c if c.contains("s3") => format!("s3://{BUCKET}/bench/"),
        _ => format!("{}/ds/", dir.path().display()),
    };
    let mut job = Job::wrapped("SAIL_BENCH_WRAP", &client.display().to_string()).args([
        "fetch",
        sim.batch_id(),
        "-o",
        &out,
        "--json",
        "-q",
        "-j",
        &CONCURRENCY.to_string(),
        "--base-url",
        &sim.base_url(),
    ]);
    job.env.push(("SAIL_API_KEY".into(), DEMO_KEY.into()));
    job.env
        .push(("XDG_CACHE_HOME".into(), dir.path().display().to_string()));
    job.env_remove.push("SAIL_BASE_URL".into());
    if !case.ends_with("raw") {
        job = job.args(["--no-raw"]);
    }
    if let Some(m) = &moto {
        job.env.extend(m.env());
    }
    let ran = tokio::task::spawn_blocking(move || spawner.run(&job)).await??;
    let wall = ran.wall_s;
    sim.shutdown().await;
    let code = ran.code.unwrap_or(-1);
    if !matches!(code, 0 | 3) {
        bail!("the client exited {code}: {}", ran.stderr);
    }
    let (rows, ids, files, bytes) = read_back(&python, &out, moto.as_ref())?;
    if rows != n || ids != n {
        bail!("{out}: {rows} rows, {ids} distinct ids for {n} ids");
    }
    let per = |s: f64| s * 1e6 / n as f64;
    Ok(format!(
        "{case:<18} {rows:>7} {wall:>7.2} {:>9.0} {:>9.1} {:>7.1} {files:>6} {:>7.1}",
        n as f64 / wall,
        per(ran.cpu_s),
        ran.max_rss_kb as f64 / 1024.0,
        bytes as f64 / 1e6
    ))
}

/// Rows, distinct ids, data files and their bytes of the output, as a real reader sees it.
fn read_back(
    python: &Path,
    out: &str,
    moto: Option<&Moto>,
) -> anyhow::Result<(u64, u64, u64, u64)> {
    let script = r#"
import json, sys, os
out, endpoint = sys.argv[1], sys.argv[2]
if out.endswith(".sqlite"):
    import sqlite3
    r = sqlite3.connect(out).execute("SELECT count(*), count(DISTINCT custom_id) FROM results").fetchone()
    files, size = 1, os.path.getsize(out)
elif endpoint:
    import pyarrow.dataset as ds, pyarrow.fs as fs
    s3 = fs.S3FileSystem(endpoint_override=endpoint, scheme="http", access_key="bench",
                         secret_key="bench", region="us-east-1")
    d = ds.dataset(out[len("s3://"):], filesystem=s3, format="parquet", partitioning="hive")
    t = d.to_table(columns=["custom_id"])
    r = (t.num_rows, len(set(t.column("custom_id").to_pylist())))
    infos = [i for i in s3.get_file_info(fs.FileSelector(out[len("s3://"):], recursive=True)) if i.path.endswith(".parquet")]
    files, size = len(infos), sum(i.size for i in infos)
else:
    import duckdb, glob
    pattern = out + ("**/*.parquet" if out.endswith("/") else "")
    hive = "true" if out.endswith("/") else "false"
    r = duckdb.sql(f"SELECT count(*), count(DISTINCT custom_id) FROM read_parquet('{pattern}', hive_partitioning = {hive})").fetchall()[0]
    paths = glob.glob(pattern, recursive=True)
    files, size = len(paths), sum(os.path.getsize(p) for p in paths)
print(json.dumps([r[0], r[1], files, size]))
"#;
    let endpoint = moto.map(Moto::endpoint).unwrap_or_default();
    let res = Command::new(python)
        .args(["-c", script, out, &endpoint])
        .output()?;
    if !res.status.success() {
        bail!(
            "reading {out} back: {}",
            String::from_utf8_lossy(&res.stderr)
        );
    }
    let v: (u64, u64, u64, u64) = serde_json::from_slice(&res.stdout)?;
    Ok(v)
}

/// A moto S3 server on a free loopback port with the bucket made; stopped on drop.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    fn start(python: &Path) -> anyhow::Result<Moto> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting moto.server")?;
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("moto did not start");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(moto)
    }

    /// Makes the bucket over plain HTTP, not with a Python child: the runner's rusage of
    /// its children must be the client's alone.
    async fn make_bucket(&self) -> anyhow::Result<()> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let resp = reqwest::Client::builder()
            .build()?
            .put(format!("{}/{BUCKET}", self.endpoint()))
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("creating the bucket: HTTP {}", resp.status());
        }
        Ok(())
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The variables that point a client at this server.
    fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "bench".into()),
            ("AWS_SECRET_ACCESS_KEY", "bench".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python with the readers and moto.
fn python() -> PathBuf {
    std::env::var_os("SAIL_EXPORT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"))
}
