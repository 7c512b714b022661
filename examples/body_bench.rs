//! Bodies benchmark, in two parts.
//!
//! Compression: the tool's own HTTP client (`api::Client::bare_get`, each body read whole
//! and dropped) fetches every finished result of the simulator, which gzips its answers when
//! asked, once asking for gzip (`Accept-Encoding: gzip`, decoded on the fly) and once not.
//! Bytes on the wire are counted by a TCP relay between the two; the client runs alone on
//! one thread (the binary's current-thread runtime) whose CPU time is read with
//! `getrusage(RUSAGE_THREAD)`, so the simulator's and the relay's work is not counted.
//!
//! Over-cap bodies: the real `sail-export fetch -j 16` against a loopback server whose 16
//! results are each 100 MiB, streamed chunked or declared with `Content-Length`, with the
//! default `--max-body-size` (64 MiB); peak RSS of the client (run from a small spawner,
//! `shared/spawn.rs`, so the peak is its own).
//!
//! ```text
//! cargo run --release --example body_bench              # 20,000 results a way, 3 rounds
//! cargo run --release --example body_bench -- --quick   # 2,000 results a way, 1 round
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use futures::StreamExt;
use sail_export::api::{Client, ClientConfig};
use sail_export::sim::{Dataset, Sim, SimConfig, DEMO_KEY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[path = "shared/client.rs"]
mod client;
#[path = "shared/spawn.rs"]
mod spawn;
use client::{build_client, usage, Who};
use spawn::{Job, Spawner};

const CONCURRENCY: usize = 32;
/// Results streamed at once past the cap, and the size of each.
const BIG_BODIES: usize = 16;
const BIG_SIZE: u64 = 100 << 20;

fn main() -> anyhow::Result<()> {
    client::linux_only()?;
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(spawn::FLAG) {
        return spawn::serve();
    }
    let quick = args.iter().any(|a| a == "--quick");
    let (n, rounds) = if quick { (2_000, 1) } else { (20_000, 3) };
    // Spawners first, while this process is small (see shared/spawn.rs).
    let spawners = [Spawner::start()?, Spawner::start()?];
    let exe = build_client()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;

    println!("compression: {n} results a way, -j {CONCURRENCY}, {rounds} round(s), median shown");
    let sim = rt.block_on(Sim::start(SimConfig {
        gzip: true,
        ..SimConfig::new(n)
    }))?;
    let relay = rt.block_on(Relay::start(sim_addr(&sim.base_url())?))?;
    let urls = result_urls(&sim, &relay.base_url);
    let mut runs: [Vec<Way>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..rounds {
        for (i, gzip) in [false, true].into_iter().enumerate() {
            runs[i].push(measure(&relay, &urls, gzip)?);
        }
    }
    println!("asked      results  wire B/result  body B/result  CPU µs/result  wall s");
    for (way, gzip) in runs.iter_mut().zip(["identity", "gzip"]) {
        way.sort_by(|a, b| a.cpu_us.total_cmp(&b.cpu_us));
        let w = &way[way.len() / 2];
        println!(
            "{gzip:<9} {:>8} {:>14.0} {:>14.0} {:>14.1} {:>7.2}",
            w.results, w.wire, w.body, w.cpu_us, w.wall_s
        );
    }

    println!("\nover-cap bodies: {BIG_BODIES} results of {} MiB at -j {BIG_BODIES}, default --max-body-size", BIG_SIZE >> 20);
    println!("body            code  errors  wall s  peak RSS MB");
    for (spawner, chunked) in spawners.into_iter().zip([true, false]) {
        let base = rt.block_on(big_server(chunked))?;
        let dir = tempfile::tempdir()?;
        let ids: Vec<String> = (0..BIG_BODIES).map(|i| format!("big-{i}")).collect();
        std::fs::write(dir.path().join("ids.txt"), ids.join("\n"))?;
        let out = dir.path().join("o.sqlite");
        let job = Job::wrapped("SAIL_BENCH_WRAP", &exe.to_string_lossy()).args([
            "fetch",
            "b",
            "-m",
            &dir.path().join("ids.txt").to_string_lossy(),
            "-o",
            &out.to_string_lossy(),
            "-j",
            "16",
            "--base-url",
            &base,
            "--json",
            "-q",
        ]);
        let job = Job {
            env: vec![("SAIL_API_KEY".into(), DEMO_KEY.into())],
            ..job
        };
        let ran = spawner.run(&job)?;
        let summary: serde_json::Value = serde_json::from_str(ran.stdout.trim())
            .with_context(|| format!("no summary: {}", ran.stderr))?;
        println!(
            "{:<15} {:>4} {:>7} {:>7.2} {:>12.1}",
            if chunked { "chunked" } else { "content-length" },
            ran.code.unwrap_or(-1),
            summary["error"],
            ran.wall_s,
            ran.max_rss_kb as f64 / 1024.0
        );
    }
    Ok(())
}

/// One way's figures.
struct Way {
    results: u64,
    wire: f64,
    body: f64,
    cpu_us: f64,
    wall_s: f64,
}

/// Fetches every URL once on a thread of its own; its CPU, the bytes the relay carried to
/// it and the decoded body bytes, per result.
fn measure(relay: &Relay, urls: &[String], gzip: bool) -> anyhow::Result<Way> {
    let before = relay.down.load(Ordering::Relaxed);
    let (urls, wanted, base) = (urls.to_vec(), urls.len() as u64, relay.base_url.clone());
    let (results, body, cpu, wall) = std::thread::spawn(move || -> anyhow::Result<_> {
        let rt = sail_export::runtime::build()?;
        let cpu0 = usage(Who::Thread)?.cpu_s;
        let t0 = Instant::now();
        let (results, body) = rt.block_on(async {
            let mut cfg = ClientConfig::new(&base, DEMO_KEY);
            cfg.pool_size = CONCURRENCY;
            cfg.gzip = gzip;
            let client = Client::new(cfg)?;
            let client = &client;
            let sizes: Vec<Option<usize>> = futures::stream::iter(&urls)
                .map(|u| client.bare_get(u))
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            let ok = sizes.iter().flatten().count() as u64;
            anyhow::Ok((ok, sizes.iter().flatten().sum::<usize>() as u64))
        })?;
        let wall = t0.elapsed().as_secs_f64();
        let cpu = usage(Who::Thread)?.cpu_s - cpu0;
        drop(rt);
        Ok((results, body, cpu, wall))
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the client thread panicked"))??;
    anyhow::ensure!(results == wanted, "only {results} of {wanted} answered");
    let per = |x: f64| x / results as f64;
    Ok(Way {
        results,
        wire: per((relay.down.load(Ordering::Relaxed) - before) as f64),
        body: per(body as f64),
        cpu_us: per(cpu * 1e6),
        wall_s: wall,
    })
}

/// The URL of every finished result of the main batch, through the relay.
fn result_urls(sim: &sail_export::sim::SimHandle, base: &str) -> Vec<String> {
    let d = sim.dataset();
    (0..d.items())
        .filter(|i| {
            let k = d.kind(0, *i);
            !k.is_unfinished() && k != sail_export::sim::ItemKind::Expired
        })
        .map(|i| {
            format!(
                "{base}/batches/{}/{}",
                sim.batch_id(),
                Dataset::custom_id(i)
            )
        })
        .collect()
}

fn sim_addr(base_url: &str) -> anyhow::Result<SocketAddr> {
    let url = reqwest::Url::parse(base_url)?;
    Ok(format!(
        "{}:{}",
        url.host_str().context("host")?,
        url.port().context("port")?
    )
    .parse()?)
}

/// A TCP relay on loopback that counts the bytes it carries from the server to the client.
struct Relay {
    base_url: String,
    down: Arc<AtomicU64>,
}

impl Relay {
    async fn start(to: SocketAddr) -> anyhow::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}/v1", listener.local_addr()?);
        let down = Arc::new(AtomicU64::new(0));
        let counter = down.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(to).await else {
                        return;
                    };
                    let _ = (client.set_nodelay(true), server.set_nodelay(true));
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let up = tokio::spawn(pipe(cr, sw, None));
                    pipe(sr, cw, Some(counter)).await;
                    up.abort();
                });
            }
        });
        Ok(Relay { base_url, down })
    }
}

/// Copies `from` to `to` until either side ends, adding what it carries to `count`.
async fn pipe(
    mut from: impl AsyncReadExt + Unpin,
    mut to: impl AsyncWriteExt + Unpin,
    count: Option<Arc<AtomicU64>>,
) {
    let mut buf = vec![0u8; 64 << 10];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
        if let Some(c) = &count {
            c.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

/// A loopback server whose status route answers a batch and whose results are each
/// [`BIG_SIZE`] bytes, chunked or with `Content-Length`; returns its base URL.
async fn big_server(chunked: bool) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}/v1", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                if !String::from_utf8_lossy(&buf[..n]).starts_with("GET /v1/batches/b/") {
                    let body = r#"{"id":"b","request_counts":16}"#;
                    let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                    let _ = sock.write_all(head.as_bytes()).await;
                    return;
                }
                let length = match chunked {
                    true => "transfer-encoding: chunked".to_owned(),
                    false => format!("content-length: {BIG_SIZE}"),
                };
                let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{length}\r\nconnection: close\r\n\r\n");
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 64 << 10];
                let framed = match chunked {
                    true => [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat(),
                    false => chunk.clone(),
                };
                for _ in 0..BIG_SIZE / chunk.len() as u64 {
                    if sock.write_all(&framed).await.is_err() {
                        return;
                    }
                }
                if chunked {
                    let _ = sock.write_all(b"0\r\n\r\n").await;
                }
            });
        }
    });
    Ok(base)
}
