//! Exports a batch through the library API — the same path `sail-export fetch` takes — and
//! prints the run's summary as JSON.
//!
//! ```text
//! SAIL_API_KEY=sk_... cargo run --example export -- BATCH_ID ids.txt results.sqlite
//! ```
//! `SAIL_BASE_URL` points it at another server (e.g. the one `sail-export demo` starts).

use std::path::PathBuf;

use anyhow::Context;
use sail_export::api::{Client, ClientConfig};
use sail_export::fetch::{self, shutdown_signal};
use sail_export::manifest::Manifest;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [batch, ids, out] = args.as_slice() else {
        anyhow::bail!("usage: export BATCH_ID MANIFEST OUT.sqlite|OUT.parquet");
    };
    let key = std::env::var("SAIL_API_KEY").context("set SAIL_API_KEY")?;
    let base = std::env::var("SAIL_BASE_URL")
        .unwrap_or_else(|_| sail_export::api::client::DEFAULT_BASE_URL.to_owned());
    let client = Client::new(ClientConfig::new(&base, &key))?;

    let manifest = Manifest::read(&PathBuf::from(ids))?;
    let mut cfg = fetch::Config::new(batch, PathBuf::from(out));
    cfg.ids = Some(manifest.ids);

    let summary = fetch::run(&client, cfg, shutdown_signal()).await?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
