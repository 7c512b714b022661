//! `sail-export cost`: prices an export and prints the report; `--strict` turns unpriced
//! requests into exit code 3.

use std::path::PathBuf;

use anyhow::Context;

use crate::cli::CostArgs;
use crate::cost::{render, report, scan, Format, Key};
use crate::error::{exit, UsageError};
use crate::export;
use crate::prices::PriceTable;

/// A cost report to make, resolved from what the user typed.
#[derive(Debug, Clone)]
pub struct Request {
    /// A SQLite or Parquet export (file or folder).
    pub path: PathBuf,
    /// Grouping keys, in order.
    pub keys: Vec<Key>,
    /// A price file over the bundled one.
    pub prices: Option<PathBuf>,
    /// How to print it.
    pub format: Format,
    /// Exit 3 when any request is unpriced.
    pub strict: bool,
    /// Only rows of this batch.
    pub batch: Option<String>,
}

impl Request {
    /// The default report (table, by model and window) for one export.
    pub fn new(path: PathBuf) -> Request {
        Request {
            path,
            keys: vec![Key::Model, Key::CompletionWindow],
            prices: None,
            format: Format::Table,
            strict: false,
            batch: None,
        }
    }

    /// Checks the flags (usage errors, exit 2).
    fn from_args(args: CostArgs) -> anyhow::Result<Request> {
        Ok(Request {
            keys: parse_keys(&args.by)?,
            path: args.path,
            prices: args.prices,
            format: args.format.into(),
            strict: args.strict,
            batch: args.batch,
        })
    }
}

/// Runs `cost`; returns the exit code: 0, or 3 with `--strict` when any request is unpriced.
pub(crate) fn run(args: CostArgs) -> anyhow::Result<i32> {
    run_to(&Request::from_args(args)?, &mut std::io::stdout().lock())
}

/// Makes the report and writes it to `out` (stdout for the command); returns the exit code.
pub fn run_to(req: &Request, out: &mut dyn std::io::Write) -> anyhow::Result<i32> {
    let prices = PriceTable::load(req.prices.as_deref())?;
    let conn = export::open(&req.path)?;
    if let Some(batch) = &req.batch {
        export::check_batch(&conn, batch, &req.path)?;
    }
    let keys = &req.keys;
    let by = |k| keys.contains(&k);
    let batch = req.batch.as_deref();
    let scanned = scan::scan(&conn, batch, by(Key::BatchId), by(Key::Status))?;
    let report = report::build(scanned, &prices, keys, batch);
    out.write_all(render::render(&report, &prices, req.format)?.as_bytes())
        .context("writing the report")?;
    let unpriced = report.total.unpriced_requests();
    if req.strict && unpriced > 0 {
        eprintln!(
            "error: --strict: {unpriced} of {} requests are unpriced; add their prices with --prices FILE",
            report.total.requests
        );
        return Ok(exit::INCOMPLETE);
    }
    Ok(exit::OK)
}

/// The `--by` keys, checked: known names, no repeats.
pub(crate) fn parse_keys(by: &[String]) -> Result<Vec<Key>, UsageError> {
    let names = || Key::ALL.map(Key::name).join(", ");
    let mut keys = Vec::new();
    for s in by {
        let key = Key::parse(s).ok_or_else(|| {
            UsageError::new(format!("--by '{s}' is not a key; use some of: {}", names()))
        })?;
        if keys.contains(&key) {
            return Err(UsageError::new(format!(
                "--by names '{}' twice",
                key.name()
            )));
        }
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(UsageError::new(format!(
            "--by needs at least one key of: {}",
            names()
        )));
    }
    Ok(keys)
}
