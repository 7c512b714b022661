//! Where rows go: the `Sink` trait and one file per output format, chosen by `open`.

pub mod parquet;
pub mod sqlite;

use std::path::Path;

use crate::ids::IdSet;
use crate::row::Row;
use crate::summary::Summary;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A SQLite database (the default).
    Sqlite,
    /// An Apache Parquet file.
    Parquet,
}

impl Format {
    /// The format's name, as `--format` takes it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::Sqlite => "sqlite",
            Format::Parquet => "parquet",
        }
    }

    /// The format an output path implies: `.parquet`/`.pq` is Parquet, anything else SQLite.
    pub(crate) fn from_path(path: &Path) -> Format {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("parquet" | "pq") => Format::Parquet,
            _ => Format::Sqlite,
        }
    }
}

/// What a run tells the sink when it starts.
#[derive(Debug, Clone)]
pub struct RunStart {
    /// The batch being exported.
    pub batch_id: String,
    /// Unix seconds.
    pub started_at: i64,
    /// The options of the run as a JSON object (never the key).
    pub options_json: String,
}

/// A destination for rows. Exactly one consumer owns it; every `write` is durable when it
/// returns (one transaction or one checkpoint), so a crash loses at most the rows in flight.
pub trait Sink: Send {
    /// The custom_ids of `batch_id` already stored with `fetch_state = 'fetched'`.
    fn fetched_ids(&mut self, batch_id: &str) -> anyhow::Result<IdSet>;
    /// Records the start of a run.
    fn begin_run(&mut self, run: &RunStart) -> anyhow::Result<()>;
    /// Upserts rows on `(batch_id, custom_id)`; a `fetched` row is never replaced by a
    /// row in another state.
    fn write(&mut self, rows: &[Row]) -> anyhow::Result<()>;
    /// Records the end of the run and makes the output complete.
    fn finish(&mut self, summary: &Summary) -> anyhow::Result<()>;
}

/// Opens the sink for `path` in `format`.
pub fn open(path: &Path, format: Format) -> anyhow::Result<Box<dyn Sink>> {
    match format {
        Format::Sqlite => Ok(Box::new(sqlite::SqliteSink::open(path)?)),
        Format::Parquet => Ok(Box::new(parquet::ParquetSink::open(path)?)),
    }
}
