//! Per-row costs (`cost --rows -o FILE`): every fetched result priced on its own, with the
//! prices applied and where they came from, written as Parquet or CSV so a DuckDB, pandas or
//! spreadsheet user joins it to the export on (batch_id, custom_id). Same figures as the
//! SQLite `result_costs` view; read from Parquet in place like the report.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use arrow_array::builder::{BooleanBuilder, Float64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;

use super::report::price;
use crate::prices::{normalize_window, PriceTable, Rate, Usd};
use crate::time::{day, Span};

/// The columns read from an export, in this order.
pub(crate) const INPUT: [&str; 9] = [
    "batch_id",
    "custom_id",
    "fetch_state",
    "model",
    "completion_window",
    "created_at",
    "input_tokens",
    "input_cached_tokens",
    "output_tokens",
];

/// One row of an export, as far as pricing goes.
pub(crate) struct In<'a> {
    pub batch_id: &'a str,
    pub custom_id: &'a str,
    pub model: Option<&'a str>,
    pub window: Option<&'a str>,
    pub created_at: Option<i64>,
    /// input, cached input, output tokens.
    pub tokens: [Option<i64>; 3],
}

/// The columns written, in order.
const OUTPUT: [(&str, DataType); 18] = [
    ("batch_id", DataType::Utf8),
    ("custom_id", DataType::Utf8),
    ("model", DataType::Utf8),
    ("completion_window", DataType::Utf8),
    ("window_used", DataType::Utf8),
    ("window_assumed", DataType::Boolean),
    ("priced_window", DataType::Utf8),
    ("price_effective_from", DataType::Utf8),
    ("price_version", DataType::Utf8),
    ("price_input", DataType::Float64),
    ("price_cached_input", DataType::Float64),
    ("price_output", DataType::Float64),
    ("cost_usd", DataType::Float64),
    ("asap_cost_usd", DataType::Float64),
    ("savings_usd", DataType::Float64),
    ("cost_low_usd", DataType::Float64),
    ("cost_high_usd", DataType::Float64),
    ("price_source", DataType::Utf8),
];

/// Rows per written batch.
const BATCH_ROWS: usize = 8192;

/// Where rows go: a Parquet or a CSV file, a batch at a time.
pub(crate) struct Writer<'p> {
    prices: &'p PriceTable,
    text: [StringBuilder; 8],
    assumed: BooleanBuilder,
    money: [Float64Builder; 8],
    source: StringBuilder,
    pending: usize,
    out: Out,
    /// Rows written.
    pub(crate) rows: u64,
    /// Rows priced where the change day is unknown, and their low and high cost.
    pub(crate) uncertain: (u64, Usd, Usd),
}

/// One priced row, in the order of [`OUTPUT`]: the text columns (`window_assumed` goes
/// after the fifth), the prices, the amounts, and the price's source.
struct Line {
    text: [Option<String>; 8],
    assumed: bool,
    rates: [Option<Rate>; 3],
    usd: [Option<Usd>; 5],
    source: Option<String>,
}

/// What `write` wrote.
pub(crate) struct Written {
    /// Rows written.
    pub(crate) rows: u64,
    /// Rows priced where the change day is unknown, and their low and high cost.
    pub(crate) uncertain: (u64, Usd, Usd),
}

impl Written {
    /// The warning about rows priced where the change day is unknown, if any.
    pub(crate) fn uncertain_note(&self) -> Option<String> {
        let (n, low, high) = self.uncertain;
        (n > 0).then(|| {
            format!(
                "warning: {n} of those rows fall between two observations of a price that disagree \
                 (change day unknown): priced at the earlier one; they cost between ${} and ${} \
                 (columns cost_low_usd, cost_high_usd)",
                low.rounded(4),
                high.rounded(4)
            )
        })
    }
}

enum Out {
    Parquet(ArrowWriter<std::fs::File>),
    Csv(csv::Writer<std::io::BufWriter<std::fs::File>>),
}

/// The window a row is priced in (its own, normalised, or the default one) and whether it
/// was assumed.
pub(crate) fn window_used(prices: &PriceTable, raw: Option<&str>) -> (String, bool) {
    match raw.map(normalize_window).filter(|w| !w.is_empty()) {
        Some(w) => (w, false),
        None => (prices.default_window().to_owned(), true),
    }
}

/// Billed tokens from (input, cached input, output): uncached input, cached input (capped to
/// [0, input]), output; `None` without usage.
pub(crate) fn billed(tokens: [Option<i64>; 3]) -> Option<[i64; 3]> {
    let [input, cached, output] = tokens;
    input.zip(output).map(|(i, o)| {
        let bc = cached.unwrap_or(0).min(i).max(0);
        [i - bc, bc, o]
    })
}

fn schema() -> Arc<Schema> {
    let fields: Vec<Field> = OUTPUT
        .iter()
        .map(|(n, t)| Field::new(*n, t.clone(), !matches!(*n, "batch_id" | "custom_id")))
        .collect();
    Arc::new(Schema::new(fields))
}

impl<'p> Writer<'p> {
    /// Creates `path`: Parquet when it ends in `.parquet`, CSV when in `.csv`.
    pub(crate) fn create(path: &Path, prices: &'p PriceTable) -> anyhow::Result<Writer<'p>> {
        let lower = path.to_string_lossy().to_ascii_lowercase();
        let file = || {
            std::fs::File::create(path).with_context(|| format!("creating '{}'", path.display()))
        };
        let out = if lower.ends_with(".parquet") {
            Out::Parquet(ArrowWriter::try_new(file()?, schema(), None)?)
        } else if lower.ends_with(".csv") {
            let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file()?));
            w.write_record(OUTPUT.iter().map(|(n, _)| *n))?;
            Out::Csv(w)
        } else {
            return Err(crate::error::UsageError::new(format!(
                "-o '{}' must end in .parquet or .csv",
                path.display()
            ))
            .into());
        };
        Ok(Writer {
            prices,
            text: Default::default(),
            assumed: BooleanBuilder::new(),
            money: Default::default(),
            source: StringBuilder::new(),
            pending: 0,
            out,
            rows: 0,
            uncertain: (0, Usd::ZERO, Usd::ZERO),
        })
    }

    /// Prices one fetched row and adds it.
    pub(crate) fn add(&mut self, r: &In<'_>) -> anyhow::Result<()> {
        let (window, assumed) = window_used(self.prices, r.window);
        let day = r.created_at.map(day::of_unix);
        let lookup = |w: &str| r.model.and_then(|m| self.prices.lookup(m, w, day));
        let own = lookup(&window);
        let billed = billed(r.tokens);
        let priced = own.as_ref().zip(billed).map(|(m, b)| m.cost(&b));
        let cost = priced.map(|p| p.usd);
        let range = priced.and_then(|p| p.range);
        if let Some((low, high)) = range {
            self.uncertain.0 += 1;
            self.uncertain.1 += low;
            self.uncertain.2 += high;
        }
        let asap = cost
            .and(lookup("asap"))
            .zip(billed)
            .map(|(a, b)| price(&b, a.entry));
        let savings = cost.zip(asap).map(|(c, a)| a - c);
        let e = own.as_ref().map(|m| m.entry);
        let text = [
            Some(r.batch_id.to_owned()),
            Some(r.custom_id.to_owned()),
            r.model.map(str::to_owned),
            r.window.map(str::to_owned),
            Some(window),
            e.map(|e| e.window.clone()),
            e.and_then(|e| e.from).map(day::format),
            e.map(|e| e.version.clone()),
        ];
        let rates = [
            e.map(|e| e.input),
            e.map(|e| e.cached_input),
            e.map(|e| e.output),
        ];
        let usd = [cost, asap, savings, range.map(|r| r.0), range.map(|r| r.1)];
        let source = e.and_then(|e| e.source.clone());
        self.append(Line {
            text,
            assumed,
            rates,
            usd,
            source,
        })
    }

    /// Writes one priced row (CSV) or adds it to the pending batch (Parquet).
    fn append(&mut self, line: Line) -> anyhow::Result<()> {
        let Line {
            text,
            assumed,
            rates,
            usd,
            source,
        } = line;
        match &mut self.out {
            Out::Csv(w) => {
                let mut rec: Vec<String> = text[..5]
                    .iter()
                    .map(|t| t.clone().unwrap_or_default())
                    .collect();
                rec.push(assumed.to_string());
                rec.extend(text[5..].iter().map(|t| t.clone().unwrap_or_default()));
                // CSV keeps money exact: every digit, not the f64.
                rec.extend(
                    rates
                        .iter()
                        .map(|r| r.map(|r| r.to_string()).unwrap_or_default()),
                );
                rec.extend(usd.iter().map(|u| u.map(Usd::exact).unwrap_or_default()));
                rec.push(source.unwrap_or_default());
                w.write_record(&rec)?;
            }
            Out::Parquet(_) => {
                for (b, t) in self.text.iter_mut().zip(&text) {
                    b.append_option(t.as_deref());
                }
                self.assumed.append_value(assumed);
                let money = rates
                    .iter()
                    .map(|r| r.map(|r| r.usd()))
                    .chain(usd.iter().map(|u| u.map(Usd::to_f64)));
                for (b, m) in self.money.iter_mut().zip(money) {
                    b.append_option(m);
                }
                self.source.append_option(source);
                self.pending += 1;
                if self.pending == BATCH_ROWS {
                    self.flush()?;
                }
            }
        }
        self.rows += 1;
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        let Out::Parquet(w) = &mut self.out else {
            return Ok(());
        };
        if self.pending == 0 {
            return Ok(());
        }
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(OUTPUT.len());
        let [b, c, m, cw, wu, pw, pf, pv] = &mut self.text;
        for t in [b, c, m, cw, wu] {
            cols.push(Arc::new(t.finish()));
        }
        cols.push(Arc::new(self.assumed.finish()));
        for t in [pw, pf, pv] {
            cols.push(Arc::new(t.finish()));
        }
        for m in &mut self.money {
            cols.push(Arc::new(m.finish()));
        }
        cols.push(Arc::new(self.source.finish()));
        w.write(&RecordBatch::try_new(schema(), cols)?)?;
        self.pending = 0;
        Ok(())
    }

    /// Writes what is pending and closes the file.
    pub(crate) fn finish(mut self) -> anyhow::Result<Written> {
        self.flush()?;
        match self.out {
            Out::Parquet(w) => {
                w.close()?;
            }
            Out::Csv(mut w) => w.flush()?,
        }
        Ok(Written {
            rows: self.rows,
            uncertain: self.uncertain,
        })
    }
}

/// Writes the per-row costs of the export at `path` (only `batch`'s rows, and only rows
/// created in `span`) to `out`; returns how many rows it wrote, and how
/// many were priced where the change day is unknown.
pub(crate) fn write(
    path: &Path,
    prices: &PriceTable,
    batch: Option<&str>,
    span: Span,
    out: &Path,
) -> anyhow::Result<Written> {
    let mut w = Writer::create(out, prices)?;
    each(path, batch, span, true, &mut |row| w.add(row))?;
    w.finish()
}

/// Calls `f` with every fetched row of the export at `path` (only `batch`'s rows, and only
/// rows created in `span`). `in_order`: in the order they were stored (SQLite's rowid);
/// otherwise as the covering index of `cost` has them, which reads a fraction of the bytes.
pub(crate) fn each(
    path: &Path,
    batch: Option<&str>,
    span: Span,
    in_order: bool,
    f: &mut (dyn FnMut(&In<'_>) -> anyhow::Result<()> + Send),
) -> anyhow::Result<()> {
    use crate::export::{self, columns, Export};
    use crate::row::Cell;
    let keep = |r: &In<'_>| batch.is_none_or(|b| b == r.batch_id) && span.contains(r.created_at);
    match export::detect(path)? {
        Export::Parquet(inputs) => {
            columns::read(&inputs, &INPUT, &mut |c| {
                let text = |i: usize, r: usize| match c.cols[i].cell(r) {
                    Cell::Text(s) => Some(s),
                    _ => None,
                };
                let int = |i: usize, r: usize| match c.cols[i].cell(r) {
                    Cell::Int(v) => Some(v),
                    Cell::Real(f) => Some(f as i64),
                    _ => None,
                };
                for r in 0..c.rows {
                    if text(2, r) != Some("fetched") {
                        continue;
                    }
                    let row = In {
                        batch_id: c.batch_id.or(text(0, r)).unwrap_or_default(),
                        custom_id: text(1, r).unwrap_or_default(),
                        model: text(3, r),
                        window: text(4, r),
                        created_at: int(5, r),
                        tokens: [int(6, r), int(7, r), int(8, r)],
                    };
                    if keep(&row) {
                        f(&row)?;
                    }
                }
                Ok(())
            })?;
        }
        Export::Sqlite(_) => {
            let conn = export::open(path)?;
            let order = if in_order { " ORDER BY rowid" } else { "" };
            let mut stmt = conn.prepare(&format!(
                "SELECT {} FROM results WHERE fetch_state = 'fetched'{order}",
                INPUT.join(", ")
            ))?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let (b, c, m, win): (String, String, Option<String>, Option<String>) =
                    (r.get(0)?, r.get(1)?, r.get(3)?, r.get(4)?);
                let row = In {
                    batch_id: &b,
                    custom_id: &c,
                    model: m.as_deref(),
                    window: win.as_deref(),
                    created_at: r.get(5)?,
                    tokens: [r.get(6)?, r.get(7)?, r.get(8)?],
                };
                if keep(&row) {
                    f(&row)?;
                }
            }
        }
    }
    Ok(())
}
