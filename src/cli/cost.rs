//! `sail-export cost`'s arguments and its report formats.

use std::path::PathBuf;

use clap::Args;

use super::moment::MomentParser;
use crate::cost;

/// Report output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// A table for the terminal.
    Table,
    /// One JSON object.
    Json,
    /// CSV, one line per group.
    Csv,
    /// A Markdown table.
    Markdown,
    /// One self-contained HTML page of charts (with -o FILE, or on stdout).
    Html,
}

impl From<ReportFormat> for cost::Format {
    fn from(f: ReportFormat) -> cost::Format {
        match f {
            ReportFormat::Table => cost::Format::Table,
            ReportFormat::Json => cost::Format::Json,
            ReportFormat::Csv => cost::Format::Csv,
            ReportFormat::Markdown => cost::Format::Markdown,
            ReportFormat::Html => cost::Format::Html,
        }
    }
}

/// `sail-export cost`.
#[derive(Debug, Clone, Args)]
pub struct CostArgs {
    /// The export to price, read in place: a SQLite file, a Parquet file, a folder of
    /// Parquet files, or a dataset (a folder or an s3://, gs://, az:// prefix).
    pub path: PathBuf,
    /// Group by these keys, comma-separated, in order (e.g. --by batch,model).
    ///
    /// Keys:
    ///   model              the response's model             --by model
    ///   completion_window  the window priced in (alias      --by window
    ///                      window; none: default, marked *)
    ///   batch_id           the batch (alias batch)          --by batch
    ///   label              the batch's label (as `list`     --by label,model
    ///                      and `status` show it)
    ///   status             the response's own status        --by status,model
    ///                      (completed, incomplete, failed)
    ///   day                UTC day of created_at            --by day
    ///                      (YYYY-MM-DD)
    ///   month              UTC month of created_at          --by month,model
    ///                      (YYYY-MM)
    ///   metadata.KEY       a key of the request's metadata  --by metadata.job
    ///                      (a.b: key b of object a; none:
    ///                      (none); numbers, objects: JSON)
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "model,completion_window",
        verbatim_doc_comment
    )]
    pub by: Vec<String>,
    /// A price file (TOML) that overrides and extends the bundled prices.
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
    /// Report format: table, json, csv, markdown or html (one self-contained page of charts).
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Print one JSON object on stdout: short for --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Table: every column, however wide (by default the columns that fit the terminal, or
    /// 80 characters when piped).
    #[arg(long)]
    pub wide: bool,
    /// Only responses created at or after this: a date (2026-09-01, a UTC day), a date-time
    /// (2026-09-01T12:00:00Z) or a duration (72h, 7d: that long before now).
    #[arg(long, value_name = "WHEN", value_parser = MomentParser)]
    pub since: Option<crate::time::Moment>,
    /// Only responses created before this (exclusive: --since 2026-09-01 --until 2026-10-01
    /// is September); the same forms as --since.
    #[arg(long, value_name = "WHEN", value_parser = MomentParser)]
    pub until: Option<crate::time::Moment>,
    /// Exit non-zero when any request has no price.
    #[arg(long)]
    pub strict: bool,
    /// Instead of the report, write one line per fetched result to -o FILE (.parquet or
    /// .csv): batch_id, custom_id, cost_usd, asap_cost_usd, savings_usd, the prices applied
    /// and where they came from; join it to the export on (batch_id, custom_id).
    #[arg(long, requires = "out")]
    pub rows: bool,
    /// Where --rows writes (.parquet or .csv), or where --format html writes its page.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only rows of this batch.
    #[arg(long, value_name = "ID")]
    pub batch: Option<String>,
}
