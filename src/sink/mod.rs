//! Where rows go: the `Sink` trait and one module per output format; [`Output`], what the
//! user named resolved, checked, locked (`lock` keeps an output to one writer) and opened
//! as a `Sink`.

mod completed;
pub(crate) mod dataset;
pub mod failure;
pub(crate) mod lock;
mod output;
pub mod parquet;
pub mod sqlite;

pub(crate) use self::completed::Completed;
pub use self::output::Output;

use std::path::Path;

use crate::cancel::Cancel;
use crate::ids::IdSet;
use crate::row::{BatchInfo, Row};
use crate::summary::Summary;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A SQLite database (the default).
    Sqlite,
    /// An Apache Parquet file.
    Parquet,
    /// A Hive-partitioned Parquet dataset: a folder or an object storage prefix with one
    /// `batch_id=…` folder per batch.
    Dataset,
}

impl Format {
    /// The format's name, as `--format` takes it; also the extension of a default output.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::Sqlite => "sqlite",
            Format::Parquet => "parquet",
            Format::Dataset => "dataset",
        }
    }

    /// The format an output path's extension names: `.sqlite`, `.sqlite3` or `.db` is
    /// SQLite, `.parquet` or `.pq` Parquet (any case); `None` for anything else.
    pub(crate) fn from_extension(path: &Path) -> Option<Format> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("sqlite" | "sqlite3" | "db") => Some(Format::Sqlite),
            Some("parquet" | "pq") => Some(Format::Parquet),
            _ => None,
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
    /// The custom_ids of `batch_id` stored as a final `not_found` (`row::is_lost`): gone
    /// past retention, or not in the batch.
    fn lost_ids(&mut self, batch_id: &str) -> anyhow::Result<IdSet>;
    /// Records the start of a run.
    fn begin_run(&mut self, run: &RunStart) -> anyhow::Result<()>;
    /// Records what the batch's status read said of it, when it was read (a failed read
    /// leaves what an earlier run recorded). A sink that keeps it in each row's
    /// `batch_label` (Parquet, datasets) has nothing more to do.
    fn record_batch(&mut self, _batch_id: &str, _info: &BatchInfo) -> anyhow::Result<()> {
        Ok(())
    }
    /// Upserts rows on `(batch_id, custom_id)`; a `fetched` row is never replaced by a
    /// row in another state.
    fn write(&mut self, rows: &[Row]) -> anyhow::Result<()>;
    /// Records the end of the run and makes the output complete.
    fn finish(&mut self, summary: &Summary) -> anyhow::Result<()>;
    /// Gives the sink the flag that cancels its long work (a merge, an upload): once set,
    /// that work stops at its next step with [`Cancelled`](crate::cancel::Cancelled),
    /// leaving the previous output and the checkpoint as they were. A sink whose every step
    /// is short ignores it.
    fn set_cancel(&mut self, _cancel: Cancel) {}
    /// Records, as far as the output still takes writes, the end of a run a failed `write`
    /// stopped (`summary.fatal_error` is set); what was committed stays as it is.
    fn abandon(&mut self, _summary: &Summary) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Which existing files an output may be written into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Existing {
    /// Only empty files and sail-export exports; anything else is refused untouched.
    #[default]
    ExportsOnly,
    /// Any SQLite database too (`--allow-foreign-db`): our tables go in beside its own.
    AnyDatabase,
}

/// Opens the sink of the file `path` in `format` (SQLite or Parquet: a dataset is opened
/// for one batch, by `Output::prepare`); an existing file must be an export of ours.
pub fn open(path: &Path, format: Format) -> anyhow::Result<Box<dyn Sink>> {
    anyhow::ensure!(
        format != Format::Dataset,
        "a dataset is opened for one batch, by sink::Output"
    );
    Output::new(path.to_owned(), format)
        .prepare("", None, Existing::ExportsOnly)?
        .open(false)
}
