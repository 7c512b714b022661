//! `sail-export cost`: prices an export and prints the report; `--strict` turns unpriced
//! requests into exit code 3. Unpriced requests are also a warning on stderr, whatever the
//! format, so a script reading JSON or CSV hears of them too.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use crate::cli::{CostArgs, ReportFormat};
use crate::cost::{html, render, report, rows, scan, Format, Key, Width};
use crate::error::{exit, UsageError};
use crate::prices::PriceTable;
use crate::time::{Moment, Span};

/// The width a table fits when neither `COLUMNS` nor the terminal tells one (output piped).
const DEFAULT_WIDTH: usize = 80;
/// No table is fitted into less: a terminal that reports 0 or a few columns is not one to
/// squeeze every figure into.
const MIN_WIDTH: usize = 40;

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
    /// Only rows created at or after this moment.
    pub since: Option<Moment>,
    /// Only rows created before this moment.
    pub until: Option<Moment>,
    /// A table with every column, however wide; otherwise the columns that fit.
    pub wide: bool,
    /// `--rows -o FILE`: per-row costs to this file instead of the report.
    pub rows_out: Option<PathBuf>,
    /// `--format html -o FILE`: the page to this file instead of stdout.
    pub html_out: Option<PathBuf>,
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
            since: None,
            until: None,
            wide: false,
            rows_out: None,
            html_out: None,
        }
    }

    /// The `created_at` range kept.
    fn span(&self) -> Span {
        Span {
            since: self.since.map(|m| m.0),
            until: self.until.map(|m| m.0),
        }
    }

    /// Checks the flags (usage errors, exit 2).
    fn from_args(args: CostArgs) -> anyhow::Result<Request> {
        let (since, until) = (args.since, args.until);
        if let (Some(s), Some(u)) = (since, until) {
            if u <= s {
                return Err(UsageError::new(format!(
                    "--until {} must be after --since {} (--until is exclusive: the report \
                     covers rows created from --since up to just before --until)",
                    u.text(),
                    s.text()
                ))
                .into());
            }
        }
        let html = args.format == ReportFormat::Html && !args.json;
        if args.out.is_some() && !args.rows && !html {
            return Err(UsageError::new("-o FILE goes with --rows or --format html").into());
        }
        Ok(Request {
            keys: parse_keys(&args.by)?,
            path: args.path,
            prices: args.prices,
            format: if args.json {
                Format::Json
            } else {
                args.format.into()
            },
            strict: args.strict,
            batch: args.batch,
            since,
            until,
            wide: args.wide,
            html_out: args.out.clone().filter(|_| !args.rows),
            rows_out: args.out.filter(|_| args.rows),
        })
    }
}

/// Runs `cost`; returns the exit code: 0, or 3 with `--strict` when any request is unpriced.
pub(crate) fn run(args: CostArgs) -> anyhow::Result<i32> {
    run_to(&Request::from_args(args)?, &mut crate::out::Stdout)
}

/// Makes the report and writes it to `out` (stdout for the command); returns the exit code.
pub fn run_to(req: &Request, out: &mut dyn std::io::Write) -> anyhow::Result<i32> {
    let prices = PriceTable::load(req.prices.as_deref())?;
    if let Some(out) = &req.rows_out {
        let w = rows::write(&req.path, &prices, req.batch.as_deref(), req.span(), out)?;
        eprintln!(
            "wrote the costs of {} results to '{}'",
            w.rows,
            out.display()
        );
        if let Some(note) = w.uncertain_note() {
            eprintln!("{note}");
        }
        return Ok(exit::OK);
    }
    // The HTML page draws every chart from one scan grouped by its own keys.
    let html_keys = html::keys();
    let keys = if req.format == Format::Html {
        &html_keys
    } else {
        &req.keys
    };
    let dims = scan::Dims::of(keys);
    let batch = req.batch.as_deref();
    let started = Instant::now();
    let scanned = scan::export(&req.path, batch, req.span(), &dims)?;
    tracing::info!(buckets = scanned.buckets.len(), elapsed = ?started.elapsed(), "scanned the export");
    let mut report = report::build(scanned, &prices, keys, batch);
    (report.since, report.until) = (req.since.map(Moment::text), req.until.map(Moment::text));
    let width = if req.wide {
        Width::All
    } else {
        Width::Fit(table_width())
    };
    if req.format == Format::Html {
        let page = html::page(&report, &prices, &req.path, batch, req.span())?;
        html::write(&page, req.html_out.as_deref(), out)?;
    } else {
        out.write_all(render::render(&report, &prices, req.format, width)?.as_bytes())
            .context("writing the report")?;
    }
    // A table or Markdown already shows the warning under it: not again when the reader
    // sees both streams in one place (a terminal, or stderr sent where stdout goes).
    let on_screen = matches!(req.format, Format::Table | Format::Markdown);
    let seen = std::io::stdout().is_terminal() || crate::terminal::stderr_is_stdout();
    if !(on_screen && seen) {
        let notes = [
            render::unpriced_note(&report),
            render::uncertain_note(&report),
        ];
        for warning in notes.into_iter().flatten() {
            eprintln!("{warning}");
        }
    }
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

/// The width to fit a table into: `COLUMNS` when set, else the terminal's, else
/// [`DEFAULT_WIDTH`]; never below [`MIN_WIDTH`].
fn table_width() -> usize {
    let columns = std::env::var("COLUMNS").ok();
    let width = columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| *w > 0)
        .or_else(|| {
            let terminal = comfy_table::Table::new().width();
            terminal.map(usize::from).filter(|w| *w > 0)
        })
        .unwrap_or(DEFAULT_WIDTH);
    tracing::info!(width, "fitting the table");
    width.max(MIN_WIDTH)
}

/// The `--by` keys, checked: known names, no repeats.
pub(crate) fn parse_keys(by: &[String]) -> Result<Vec<Key>, UsageError> {
    let names = || {
        let mut v: Vec<&str> = Key::ALL.iter().map(Key::name).collect();
        v.push("metadata.KEY");
        v.join(", ")
    };
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
