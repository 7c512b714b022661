//! `sail-export demo`'s arguments, and the [`fetch::Config`] of its export.

use std::path::PathBuf;

use clap::Args;

use super::args::concurrency;
use crate::fetch::{self, RunOptions};
use crate::sink::Format;

/// `sail-export demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Items in the simulated batch.
    #[arg(long, value_name = "N", default_value_t = 3000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub requests: u64,
    /// Output file (SQLite). A previous demo output there is replaced; any other file is
    /// left alone and the demo refuses to start.
    #[arg(short = 'o', long, value_name = "PATH", default_value = "demo.sqlite")]
    pub out: PathBuf,
    /// Seed of the simulated data: the same seed serves the same batch.
    #[arg(long, value_name = "N", default_value_t = 42)]
    pub seed: u64,
    /// Requests in flight at most (the simulator rate-limits above 48).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 32, value_parser = concurrency())]
    pub concurrency: usize,
    /// After the export, keep the simulated API up on 127.0.0.1 until Ctrl-C, to try
    /// `status`, `list` and `fetch --wait` against it.
    #[arg(long)]
    pub serve: bool,
    /// With --serve: the loopback port to serve on (0 picks a free one).
    #[arg(long, value_name = "PORT", default_value_t = 8787, requires = "serve")]
    pub port: u16,
    /// With --serve: the served batches' running and queued items complete one by one within
    /// this many seconds after the export.
    #[arg(long, value_name = "SECS", default_value_t = 120, requires = "serve",
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub finish_in: u64,
}

impl DemoArgs {
    /// The export of `batch_id` from the simulated API: what `fetch BATCH_ID -o OUT -j N`
    /// does, recorded as a demo run.
    pub fn config(&self, batch_id: &str) -> fetch::Config {
        let mut cfg = fetch::Config::new(batch_id, self.out.clone());
        cfg.format = Format::Sqlite;
        cfg.concurrency = self.concurrency;
        cfg.options = RunOptions {
            demo: true,
            seed: Some(self.seed),
            ..RunOptions::default()
        };
        cfg
    }
}
