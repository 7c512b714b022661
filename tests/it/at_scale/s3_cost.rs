//! `cost` over a dataset on S3 (moto) reads the objects by range requests, only the columns
//! the report needs: the bytes the server sends, counted by a TCP relay in front of it, are
//! a small part of the objects' size, and the report equals the one over the same files on
//! disk.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parquet::arrow::ArrowWriter;
use sail_export::row::{FetchState, Row};
use sail_export::sink::parquet::{schema, writer_properties};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::s3::{s3_env, Moto, BUCKET};
use super::*;

/// A relay to `upstream` on a loopback port of its own; counts the bytes `upstream` sends.
async fn counting_relay(upstream: String, sent: Arc<AtomicU64>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(&upstream).await else {
                continue;
            };
            let sent = Arc::clone(&sent);
            tokio::spawn(async move {
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                tokio::spawn(async move { tokio::io::copy(&mut cr, &mut sw).await });
                let mut buf = vec![0u8; 64 << 10];
                while let Ok(n) = sr.read(&mut buf).await {
                    if n == 0 || cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    sent.fetch_add(n as u64, Ordering::Relaxed);
                }
            });
        }
    });
    at
}

/// A dataset folder of two batches, 1,000 rows each with a 20 KB response body kept: one
/// `part-….parquet` per batch, written with the sink's writer settings.
fn big_dataset(dir: &Path) {
    let file_schema = schema::dataset_file_schema();
    let not_batch: Vec<usize> = (1..schema::schema().fields().len()).collect();
    for b in 0..2 {
        let folder = dir.join(format!("batch_id=batch_s3_{b}"));
        std::fs::create_dir_all(&folder).unwrap();
        let file =
            std::fs::File::create(folder.join("part-20260101T000000.000Z-0.parquet")).unwrap();
        let mut w =
            ArrowWriter::try_new(file, file_schema.clone(), Some(writer_properties(None))).unwrap();
        let rows: Vec<Row> = (0..1_000u64)
            .map(|i| {
                let mut r = Row::bare(
                    &format!("batch_s3_{b}"),
                    &format!("r{i}"),
                    FetchState::Fetched,
                );
                r.model = Some(["zai-org/GLM-5.3", "moonshotai/Kimi-K3"][i as usize % 2].into());
                r.completion_window = Some("flex".into());
                r.created_at = Some(1_790_000_000 + i as i64 * 600);
                (r.input_tokens, r.input_cached_tokens, r.output_tokens) =
                    (Some(1_000 + i as i64), Some(i as i64), Some(500));
                // Bodies that do not compress away: a hash chain in hex.
                let mut x = i.wrapping_add(b * 1_000) | 1;
                let body: String = (0..1_250)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        format!("{:016x}", x)
                    })
                    .collect();
                r.raw_json = Some(format!("{{\"pad\":\"{body}\"}}"));
                r
            })
            .collect();
        let order: Vec<usize> = (0..rows.len()).collect();
        let batch = schema::to_batch(&rows, &order).project(&not_batch).unwrap();
        w.write(&batch.with_schema(file_schema.clone()).unwrap())
            .unwrap();
        w.close().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cost_over_a_dataset_on_s3_reads_byte_ranges_not_whole_objects() {
    let Some(python) = python() else { return };
    let moto = Moto::start(&python, false);
    moto.boto(&python, &format!("s3.create_bucket(Bucket='{BUCKET}')"));
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("ds");
    big_dataset(&local);
    let upload = format!(
        "import os\nroot = sys.argv[2]\nfor d in sorted(os.listdir(root)):\n    \
         for f in os.listdir(os.path.join(root, d)):\n        \
         s3.upload_file(os.path.join(root, d, f), '{BUCKET}', 'big/' + d + '/' + f)\n"
    );
    let out = std::process::Command::new(&python)
        .args([
            "-c",
            &format!(
                "import json, sys, boto3\ns3 = boto3.client('s3', endpoint_url=sys.argv[1], \
                 aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1')\n{upload}"
            ),
            &moto.endpoint(),
            local.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let size: u64 = walk(&local)
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert!(size > 10_000_000, "the objects are large: {size} bytes");

    let sent = Arc::new(AtomicU64::new(0));
    let relay = counting_relay(
        moto.endpoint().trim_start_matches("http://").to_owned(),
        Arc::clone(&sent),
    )
    .await;
    let url = format!("s3://{BUCKET}/big/");
    let args = ["cost", &url, "--format", "json", "--by", "batch_id,model"];
    let t = std::time::Instant::now();
    let out = output(s3_env(command(&args), &relay, dir.path())).await;
    eprintln!("cost over S3 in {:?}", t.elapsed());
    assert_eq!(out.code, 0, "{out:?}");
    let on_disk = run(&[
        "cost",
        local.to_str().unwrap(),
        "--format",
        "json",
        "--by",
        "batch_id,model",
    ])
    .await;
    assert_eq!(on_disk.code, 0, "{on_disk:?}");
    assert_eq!(out.stdout, on_disk.stdout, "S3 and disk reports differ");
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["total"]["requests"], 2_000, "{report}");
    // The relay's copy of the last reply ends when the client closes the connection.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fetched = sent.load(Ordering::Relaxed);
    assert!(fetched > 0, "the report went through the relay");
    // The footers (one 256 KB read each at most) and the few columns of the report.
    assert!(
        fetched * 10 < size,
        "cost fetched {fetched} of {size} bytes: more than the columns it needs"
    );
}

/// The files under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            files.extend(walk(&e.path()));
        } else {
            files.push(e.path());
        }
    }
    files
}
