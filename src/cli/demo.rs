//! `sail-export demo`'s arguments, and the [`fetch::Config`] of its export.

use std::path::PathBuf;

use clap::Args;

use super::args::Jobs;
use crate::fetch::{self, RunOptions};
use crate::sink::{Format, Output};

/// `sail-export demo`.
#[derive(Debug, Clone, Args)]
#[command(mut_arg("concurrency", |a| a
    .default_value("32")
    .help("Requests in flight at most (the simulator rate-limits above 48)")))]
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
    /// `-j`, here 32 by default (the simulator rate-limits above 48).
    #[command(flatten)]
    pub jobs: Jobs,
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
        cfg.output = Output::new(self.out.clone(), Format::Sqlite);
        cfg.concurrency = self.jobs.concurrency;
        cfg.options = RunOptions {
            demo: true,
            seed: Some(self.seed),
            ..RunOptions::default()
        };
        cfg
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    fn jobs(args: &[&str]) -> Result<usize, clap::Error> {
        let cli = Cli::try_parse_from([&["sail-export"], args].concat())?;
        Ok(match cli.command {
            Command::Demo(a) => a.jobs.concurrency,
            Command::Fetch(a) => a.run.jobs.concurrency,
            Command::Sync(a) => a.run.jobs.concurrency,
            _ => unreachable!(),
        })
    }

    #[test]
    fn one_minus_j_with_the_demos_own_default() {
        assert_eq!(jobs(&["demo"]).unwrap(), 32);
        assert_eq!(
            jobs(&["fetch", "b"]).unwrap(),
            crate::fetch::DEFAULT_CONCURRENCY
        );
        assert_eq!(jobs(&["sync"]).unwrap(), crate::fetch::DEFAULT_CONCURRENCY);
        assert_eq!(jobs(&["demo", "-j", "7"]).unwrap(), 7);
        for sub in [&["demo"][..], &["fetch", "b"], &["sync"]] {
            for bad in ["0", "4097", "x"] {
                let err = jobs(&[sub, &["-j", bad]].concat()).unwrap_err();
                assert!(err.to_string().contains("--concurrency"), "{err}");
            }
        }
    }
}
