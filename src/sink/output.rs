//! An output as the user names it: `-o` and `--format` resolved to one [`Output`]; made
//! ready for one batch's run ([`Output::prepare`]: its folder or store checked), locked,
//! checked for what it holds and opened as a [`Sink`] ([`Place`]); and asked which batches
//! it holds complete ([`Output::completed`]). `fetch`, `sync`, `load` and `export` know an
//! output only through it; adding a format means a variant of [`Format`] and its arms here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::completed::{self, Completed};
use super::dataset::{DatasetSink, Target};
use super::failure::OutputError;
use super::lock::OutputLock;
use super::{parquet, sqlite, Existing, Format, Sink};
use crate::error::UsageError;
use crate::shard::Shard;
use crate::store::{self, Store};

/// Where an export goes: a path (a file, a folder, an object storage URL) and its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    path: PathBuf,
    format: Format,
}

impl Output {
    /// `path` in `format`, as given.
    pub fn new(path: PathBuf, format: Format) -> Output {
        Output { path, format }
    }

    /// `path` in the format its extension names (see `Format::from_extension`); SQLite
    /// when it names none.
    pub fn from_path(path: PathBuf) -> Output {
        let format = Format::from_extension(&path).unwrap_or(Format::Sqlite);
        Output { path, format }
    }

    /// What the user gave: `-o` (`out`) and `--format` (`given`); without `-o`, a file named
    /// `<stem>.<format>` in the current folder. The format is `--format`, else what `-o`
    /// names: a dataset for a path ending in `/`, an existing folder or an object storage
    /// URL; else the file's extension (`.sqlite` / `.db` or `.parquet`); else SQLite. An `-o`
    /// that names another format than `--format`, or an extension we do not know without
    /// `--format`, is refused rather than guessed.
    pub fn resolve(
        out: Option<&Path>,
        given: Option<Format>,
        stem: &str,
    ) -> Result<Output, UsageError> {
        let format = format(out, given)?;
        let path = match out {
            Some(out) => out.to_owned(),
            None => PathBuf::from(format!("{stem}.{}", format.name())),
        };
        Ok(Output { path, format })
    }

    /// The path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// How messages name the output.
    pub fn show(&self) -> String {
        self.path.display().to_string()
    }

    /// Makes the output ready for a run on `batch_id` (and `shard`; a file serves every
    /// batch and ignores them), reading only: a file's
    /// folder must exist; a dataset's folder or store must answer (a missing folder or
    /// bucket, bad credentials or an endpoint that does not answer end the run here), and
    /// gets the local folder of the run's checkpoint and lock. Blocks.
    pub(crate) fn prepare(
        &self,
        batch_id: &str,
        shard: Option<Shard>,
        existing: Existing,
    ) -> anyhow::Result<Place> {
        let at = match self.format {
            Format::Sqlite => {
                check_folder(&self.path)?;
                At::Sqlite(existing)
            }
            Format::Parquet => {
                check_folder(&self.path)?;
                At::Parquet
            }
            Format::Dataset => {
                let store = Store::open(&self.path.to_string_lossy())?;
                store.check()?;
                let target = Target {
                    batch_id: batch_id.to_owned(),
                    shard,
                    whole_batch: false,
                };
                let scratch = target.scratch(&store)?;
                At::Dataset {
                    store,
                    target,
                    scratch,
                }
            }
        };
        Ok(Place {
            output: self.clone(),
            at,
        })
    }

    /// What a failed run keeps of its `rows`, for the error message: `whole` when the
    /// failure came after the last row was committed (recording the run).
    pub(crate) fn kept(&self, rows: u64, whole: bool) -> String {
        match (self.format, whole) {
            _ if rows == 0 => "no row of this run was committed".to_owned(),
            (Format::Sqlite, false) => format!(
                "the {rows} rows committed before are kept in '{}'",
                self.path.display()
            ),
            (Format::Sqlite, true) => format!("the {rows} rows fetched are all committed"),
            (Format::Parquet | Format::Dataset, _) => {
                format!("the {rows} rows fetched are kept in the checkpoint")
            }
        }
    }

    /// Which batches the output already holds complete, read once (a dataset: its markers,
    /// read as asked; a file: its counts per batch). An output that cannot be read is a
    /// usage error. Blocks.
    pub(crate) fn completed(&self) -> anyhow::Result<Completed> {
        if self.format == Format::Dataset {
            let store = Store::open(&self.path.to_string_lossy())?;
            store.check()?;
            return Ok(Completed::Markers(store));
        }
        if !self.path.exists() {
            return Ok(Completed::Counts(HashMap::new()));
        }
        let counts = match self.format {
            Format::Parquet => completed::parquet_counts(&self.path),
            Format::Sqlite | Format::Dataset => completed::sqlite_counts(&self.path),
        };
        counts.map(Completed::Counts).map_err(|e| {
            UsageError::new(format!("cannot sync into '{}': {e:#}", self.path.display())).into()
        })
    }
}

/// The format of what the user gave; see [`Output::resolve`].
fn format(out: Option<&Path>, given: Option<Format>) -> Result<Format, UsageError> {
    let Some(out) = out else {
        return match given {
            Some(Format::Dataset) => Err(UsageError::new(
                "--format dataset needs -o/--out: a folder (e.g. -o results/) or an s3:// URL",
            )),
            given => Ok(given.unwrap_or(Format::Sqlite)),
        };
    };
    let implied = match names_dataset(out) {
        true => Some(Format::Dataset),
        false => Format::from_extension(out),
    };
    match (given, implied) {
        (Some(Format::Dataset), _) => Ok(Format::Dataset),
        (Some(f), Some(Format::Dataset)) => Err(UsageError::new(format!(
            "-o/--out '{}' is a folder or URL, which holds a dataset, but --format says {}; give a \
             file name for {}, or drop --format",
            out.display(),
            f.name(),
            f.name()
        ))),
        (Some(f), Some(implied)) if f != implied => Err(UsageError::new(format!(
            "-o/--out '{}' says {} by its extension but --format says {}; name it .{} or drop \
             --format",
            out.display(),
            implied.name(),
            f.name(),
            f.name()
        ))),
        (Some(f), _) | (None, Some(f)) => Ok(f),
        (None, None) => Err(UsageError::new(format!(
            "cannot tell the format of -o/--out '{}' from its extension: name it .sqlite or .db \
             for SQLite, .parquet for Parquet, end it with / for a dataset folder, or pass \
             --format sqlite|parquet|dataset",
            out.display()
        ))),
    }
}

/// Whether `out` names a dataset by itself: an object storage URL (`s3://…`, `gs://…`,
/// `az://…`), a path ending in `/`, or an existing folder.
fn names_dataset(out: &Path) -> bool {
    let text = out.to_string_lossy();
    store::is_url(&text)
        || text.ends_with('/')
        || text.ends_with(std::path::MAIN_SEPARATOR)
        || out.is_dir()
}

/// The output's folder must exist: an output is never made in a folder that is not there.
fn check_folder(path: &Path) -> anyhow::Result<()> {
    if path.file_name().is_none() {
        return Err(UsageError::new(format!(
            "the output '{}' is not a file name",
            path.display()
        ))
        .into());
    }
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => Err(UsageError::new(format!(
            "cannot write the output '{}': the folder '{}' does not exist",
            path.display(),
            dir.display()
        ))
        .into()),
        _ => Ok(()),
    }
}

/// An output made ready for one batch's run: lock it, check what it holds, open it.
pub(crate) struct Place {
    output: Output,
    at: At,
}

/// Where a run writes: a SQLite file (and which existing files it may be written into), a
/// Parquet file, or a batch's partition of a dataset.
enum At {
    Sqlite(Existing),
    Parquet,
    Dataset {
        store: Store,
        target: Target,
        scratch: PathBuf,
    },
}

impl Place {
    /// Takes the lock of the output (a dataset: of the batch's partition and shard); with
    /// `wait`, waits for another process that holds it, else fails at once (exit 2).
    pub(crate) async fn lock(&self, wait: bool) -> anyhow::Result<OutputLock> {
        match &self.at {
            At::Sqlite(_) | At::Parquet => OutputLock::acquire(&self.output.path, wait).await,
            At::Dataset {
                store,
                target,
                scratch,
            } => {
                let what = match target.shard {
                    Some(s) => format!(
                        "batch '{}' (shard {s}) of '{}'",
                        target.batch_id,
                        store.show("")
                    ),
                    None => format!("batch '{}' of '{}'", target.batch_id, store.show("")),
                };
                OutputLock::acquire_as(&target.lock_target(scratch), &what, wait).await
            }
        }
    }

    /// Checks, reading only, that the output can take the export before anything is
    /// requested or written: an existing file is empty or an export of ours (or, with
    /// [`Existing::AnyDatabase`], any SQLite database). Errors are usage errors (exit 2) and
    /// leave the file as it was.
    pub(crate) fn check(&self) -> anyhow::Result<()> {
        let path = &self.output.path;
        match self.at {
            At::Sqlite(existing) => sqlite::check(path, existing),
            At::Parquet if path.exists() => parquet::open_export(path, true).map(drop),
            At::Parquet | At::Dataset { .. } => Ok(()),
        }
    }

    /// Opens the sink; `whole_batch` when the run's ids are the whole batch (its status
    /// listed them), so that a dataset may mark the batch complete. Blocks.
    pub(crate) fn open(self, whole_batch: bool) -> anyhow::Result<Box<dyn Sink>> {
        let path = &self.output.path;
        let opened: anyhow::Result<Box<dyn Sink>> = match self.at {
            At::Sqlite(existing) => {
                sqlite::SqliteSink::open_with(path, existing).map(|s| Box::new(s) as _)
            }
            At::Parquet => parquet::ParquetSink::open(path).map(|s| Box::new(s) as _),
            At::Dataset {
                store,
                mut target,
                scratch,
            } => {
                target.whole_batch = whole_batch;
                return Ok(Box::new(DatasetSink::open(store, target, scratch)?));
            }
        };
        opened.map_err(|e| OutputError::wrap(&self.output.show(), "opening", e))
    }
}

#[cfg(test)]
#[path = "output_tests.rs"]
mod tests;
