//! The Parquet sink: the same columns as SQLite, written crash-safely and resumably.
//!
//! Every `write` becomes a sorted checkpoint part in `.<name>.parts/` beside the output
//! (see `parts`). `finish` merges the parts down to at most `parts::FAN_IN` sources (the
//! previous output counting as one), so its memory does not grow with the length of the
//! run; merges those into `.<name>.tmp`, fsyncs it, renames it over the output and removes
//! the parts. The output path therefore always holds the previous complete file or the new
//! complete file, and a killed run is resumed from its parts by the next run on the same
//! output.

pub(crate) mod merge;
pub(crate) mod parts;
pub mod schema;

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;
use arrow_array::cast::AsArray;
use arrow_array::Array;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use self::merge::{Batches, Cursor};
use self::parts::Parts;
use super::failure::OutputError;
use super::{RunStart, Sink};
use crate::cancel::Cancel;
use crate::error::UsageError;
use crate::ids::{IdList, IdSet};
use crate::row::{FetchState, Row};
use crate::summary::Summary;

/// Rows per row group at most. The writer holds one row group in memory, so this also
/// bounds its memory whatever the size of the export.
pub const ROW_GROUP_ROWS: usize = 4 * 1024;
/// Encoded bytes per row group at most (raw_json can make rows large).
pub(crate) const ROW_GROUP_BYTES: usize = 8 << 20;
/// Rows the column writers take at a time: a page's size is checked between these, so with
/// ~3 KB texts the default 1,024 rows let a text page grow to ~3 MB before it is closed.
const WRITE_BATCH_ROWS: usize = 128;
/// Uncompressed bytes per data page, about: with the row group, what a writer holds.
const PAGE_BYTES: usize = 512 << 10;
/// Rows per batch when reading an export back.
pub(crate) const READ_BATCH_ROWS: usize = 256;
/// Columns whose values are mostly unique: dictionary encoding would only cost time.
const NO_DICTIONARY: &[&str] = &[
    "custom_id",
    "response_id",
    "output_text",
    "metadata_json",
    "raw_json",
];
/// Free text and JSON: a minimum and maximum of them would filter nothing, and computing
/// them costs time and footer space on every page.
const NO_STATISTICS: &[&str] = &["output_text", "metadata_json", "raw_json"];
/// Columns with a handful of values per batch, which the dictionary and run-length encodings
/// already shrink to a few bytes per page: zstd would not make them smaller (it adds its
/// frame), and each compressed column costs a compressor and a decompressor per row group.
const NO_COMPRESSION: &[&str] = &[
    "batch_id",
    "fetch_state",
    "http_status",
    "attempts",
    "max_output_tokens",
    "temperature",
    "top_p",
];

/// A Parquet output file and its checkpoint.
pub(crate) struct ParquetSink {
    out: PathBuf,
    tmp: PathBuf,
    base: bool,
    parts: Option<Parts>,
    options_json: String,
    /// The final `not_found` ids of a batch, read with its fetched ones (one pass).
    lost: Option<(String, IdList)>,
    cancel: Cancel,
}

impl ParquetSink {
    /// Opens the output `path`: an existing file must be a sail-export Parquet export (it is
    /// merged with what this run writes); a checkpoint left by a killed run is resumed.
    pub(crate) fn open(path: &Path) -> anyhow::Result<ParquetSink> {
        let name = path
            .file_name()
            .ok_or_else(|| {
                UsageError::new(format!("-o/--out '{}' is not a file name", path.display()))
            })?
            .to_string_lossy()
            .into_owned();
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(UsageError::new(format!(
                "cannot write -o/--out '{}': the folder '{}' does not exist",
                path.display(),
                dir.display()
            ))
            .into());
        }
        let base = path.exists();
        if base {
            open_export(path, true)?;
        }
        let parts = Parts::open(&dir.join(format!(".{name}.parts")))?;
        Ok(ParquetSink {
            out: path.to_owned(),
            tmp: dir.join(format!(".{name}.tmp")),
            base,
            parts: Some(parts),
            options_json: String::new(),
            lost: None,
            cancel: Cancel::default(),
        })
    }

    fn parts(&mut self) -> anyhow::Result<&mut Parts> {
        self.parts
            .as_mut()
            .context("the Parquet sink was already finished")
    }

    /// Merges the previous output and the parts into the temporary file, then renames it
    /// over the output.
    /// Stops at the next batch once the run is cancelled, the output untouched.
    fn write_output(&mut self) -> anyhow::Result<u64> {
        self.cancel.check()?;
        // A bounded number of sources (the previous output counts as one), then what the
        // fetch and the compactions freed goes back before the merge allocates.
        let max = parts::FAN_IN - usize::from(self.base);
        let cancel = self.cancel.clone();
        self.parts()?.reduce(max, &cancel)?;
        crate::memory::release_free_pages();
        let mut sources: Vec<Cursor> = Vec::new();
        if self.base {
            let name = self.out.display().to_string();
            if let Some(c) = Cursor::open(name, read_export(&self.out, None)?)? {
                sources.push(c);
            }
        }
        sources.extend(self.parts()?.all_cursors()?);
        let rows = write_merged(&self.tmp, sources, &self.options_json, false, &cancel)?;
        std::fs::rename(&self.tmp, &self.out).with_context(|| {
            format!(
                "renaming '{}' to '{}'",
                self.tmp.display(),
                self.out.display()
            )
        })?;
        if let Some(dir) = self.tmp.parent() {
            // The rename is durable once the folder is synced.
            File::open(dir).and_then(|d| d.sync_all()).ok();
        }
        Ok(rows)
    }
}

/// Merges `sources` into a new Parquet file at `tmp` with our writer properties and the
/// run's options in its metadata, and fsyncs it; returns the rows written. A dataset file
/// (`dataset`) leaves out `batch_id`, which its folder names. Fails with `Cancelled`
/// before the next batch once `cancel` is set (the caller removes `tmp`).
pub(crate) fn write_merged(
    tmp: &Path,
    sources: Vec<Cursor>,
    options_json: &str,
    dataset: bool,
    cancel: &Cancel,
) -> anyhow::Result<u64> {
    let mut meta = vec![KeyValue::new(
        "sail_export.version".to_owned(),
        env!("CARGO_PKG_VERSION").to_owned(),
    )];
    if !options_json.is_empty() {
        meta.push(KeyValue::new(
            "sail_export.run".to_owned(),
            options_json.to_owned(),
        ));
    }
    let file_schema = match dataset {
        true => schema::dataset_file_schema(),
        false => schema::schema(),
    };
    let file = File::create(tmp).with_context(|| format!("creating '{}'", tmp.display()))?;
    let mut w = ArrowWriter::try_new(file, file_schema, Some(writer_properties(Some(meta))))?;
    let rows = merge::merge(sources, |b| {
        cancel.check()?;
        match dataset {
            true => w.write(&schema::without_batch_id(&b)?).map_err(Into::into),
            false => w.write(&b).map_err(Into::into),
        }
    })?;
    let file = w.into_inner().context("finishing the Parquet file")?;
    file.sync_all()
        .with_context(|| format!("syncing '{}'", tmp.display()))?;
    Ok(rows)
}

/// Zstd, page statistics, row groups bounded in rows and bytes, no dictionary where values
/// are unique, no statistics on free text, no compression where it gains nothing.
pub fn writer_properties(meta: Option<Vec<KeyValue>>) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("valid level"),
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .set_write_batch_size(WRITE_BATCH_ROWS)
        .set_data_page_size_limit(PAGE_BYTES)
        .set_key_value_metadata(meta);
    for name in NO_DICTIONARY {
        b = b.set_column_dictionary_enabled(ColumnPath::from(*name), false);
    }
    for name in NO_STATISTICS {
        b = b.set_column_statistics_enabled(ColumnPath::from(*name), EnabledStatistics::None);
    }
    for name in NO_COMPRESSION {
        b = b.set_column_compression(ColumnPath::from(*name), Compression::UNCOMPRESSED);
    }
    b.build()
}

/// Opens a Parquet export for reading; an error names the file and, when the file is
/// Parquet but not ours, the column. With `exact`, the schema must be the export schema.
pub(crate) fn open_export(
    path: &Path,
    exact: bool,
) -> anyhow::Result<(ParquetRecordBatchReaderBuilder<File>, Vec<Option<usize>>)> {
    let file = File::open(path)
        .map_err(|e| UsageError::new(format!("cannot open '{}': {e}", path.display())))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
        UsageError::new(format!("'{}' is not a Parquet file ({e})", path.display()))
    })?;
    let checked = match exact {
        true => {
            schema::check_exact(builder.schema()).and_then(|_| schema::project(builder.schema()))
        }
        false => schema::project(builder.schema()),
    };
    let proj = checked.map_err(|e| {
        UsageError::new(format!(
            "'{}' is not a sail-export Parquet export: {e}{}",
            path.display(),
            if exact {
                "; choose another -o/--out or move the file away"
            } else {
                ""
            }
        ))
    })?;
    Ok((builder, proj))
}

/// Where each export column is in the batches of a dataset file whose schema is `file`, once
/// `batch_id` is put back in front (`schema::with_batch_id`). With `exact`, the file must be
/// exactly one of ours. The error names the file as `shown`.
pub(crate) fn dataset_file_projection(
    file: &arrow_schema::Schema,
    shown: &str,
    exact: bool,
) -> Result<Vec<Option<usize>>, UsageError> {
    let full = schema::with_batch_id_field(file);
    let checked = match exact {
        true => schema::check_exact(&full).and_then(|_| schema::project(&full)),
        false => schema::project(&full),
    };
    checked.map_err(|e| {
        UsageError::new(format!(
            "'{shown}' is not a file of a sail-export dataset: {e}"
        ))
    })
}

/// Opens a file of a dataset (shown as `shown`) for reading, with [`dataset_file_projection`].
pub(crate) fn open_dataset_file(
    path: &Path,
    shown: &str,
    exact: bool,
) -> anyhow::Result<(ParquetRecordBatchReaderBuilder<File>, Vec<Option<usize>>)> {
    let file =
        File::open(path).map_err(|e| UsageError::new(format!("cannot open '{shown}': {e}")))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| UsageError::new(format!("'{shown}' is not a Parquet file ({e})")))?;
    let proj = dataset_file_projection(builder.schema(), shown, exact)?;
    Ok((builder, proj))
}

/// The batches of our own export at `path`, with only the first `columns` columns when
/// given (they are the leading columns of the export schema).
fn read_export(path: &Path, columns: Option<usize>) -> anyhow::Result<Batches> {
    let (builder, _) = open_export(path, true)?;
    let builder = match columns {
        Some(n) => {
            let mask = ProjectionMask::roots(builder.parquet_schema(), 0..n);
            builder.with_projection(mask)
        }
        None => builder,
    };
    let reader = builder.with_batch_size(READ_BATCH_ROWS).build()?;
    let name = path.display().to_string();
    Ok(Box::new(reader.map(move |b| match columns {
        // A file written before a column was added gets it as NULL (`schema::ADDED_LATER`).
        None => merge::exact(&name, schema::upgrade(b?)),
        Some(_) => Ok(b?),
    })))
}

/// Adds to `fetched` the custom_ids of `batch_id` in state `fetched` found in `batches`, and
/// to `lost` those stored as a final `not_found` (`row::is_lost`). Columns 0, 1, 2 of
/// `batches` are batch_id, custom_id, fetch_state; `error` is fetch_error's.
fn collect(
    batches: Batches,
    batch_id: &str,
    error: usize,
    fetched: &mut IdList,
    lost: &mut IdList,
) -> anyhow::Result<()> {
    let fetched_state = FetchState::Fetched.as_str();
    for b in batches {
        let b = b?;
        let (bid, cid, st, err) = (
            b.column(0).as_string::<i32>(),
            b.column(1).as_string::<i32>(),
            b.column(2).as_string::<i32>(),
            b.column(error).as_string::<i32>(),
        );
        for i in 0..b.num_rows() {
            if bid.value(i) != batch_id {
                continue;
            }
            let state = st.value(i);
            if state == fetched_state {
                fetched.push(cid.value(i));
            } else if crate::row::is_lost(state, (!err.is_null(i)).then(|| err.value(i))) {
                lost.push(cid.value(i));
            }
        }
    }
    Ok(())
}

impl Sink for ParquetSink {
    fn fetched_ids(&mut self, batch_id: &str) -> anyhow::Result<IdSet> {
        // batch_id, custom_id and fetch_state lead the column list; fetch_error follows
        // http_status and attempts.
        debug_assert_eq!(schema::index_of("fetch_state"), 2);
        let error = schema::index_of("fetch_error");
        let (mut fetched, mut lost) = (IdList::new(), IdList::new());
        if self.base {
            let batches = read_export(&self.out, Some(error + 1))?;
            collect(batches, batch_id, error, &mut fetched, &mut lost)?;
        }
        for batches in self.parts()?.scan(vec![0, 1, 2, error])? {
            collect(batches, batch_id, 3, &mut fetched, &mut lost)?;
        }
        self.lost = Some((batch_id.to_owned(), lost));
        Ok(IdSet::from(fetched))
    }

    fn lost_ids(&mut self, batch_id: &str) -> anyhow::Result<IdSet> {
        match self.lost.take() {
            Some((b, lost)) if b == batch_id => Ok(IdSet::from(lost)),
            _ => {
                self.fetched_ids(batch_id)?;
                self.lost_ids(batch_id)
            }
        }
    }

    fn begin_run(&mut self, run: &RunStart) -> anyhow::Result<()> {
        self.options_json = run.options_json.clone();
        Ok(())
    }

    fn write(&mut self, rows: &[Row]) -> anyhow::Result<()> {
        let shown = self.out.display().to_string();
        self.parts()?
            .add(rows)
            .map_err(|e| OutputError::wrap(&shown, "checkpoint", e))
    }

    fn set_cancel(&mut self, cancel: Cancel) {
        self.cancel = cancel;
    }

    fn finish(&mut self, _summary: &Summary) -> anyhow::Result<()> {
        let shown = self.out.display().to_string();
        let nothing_new = self.parts()?.is_empty() && self.base;
        if !nothing_new {
            if let Err(e) = self.write_output() {
                // The checkpoint is kept: the next run on this output resumes from it.
                std::fs::remove_file(&self.tmp).ok();
                return Err(OutputError::wrap(&shown, "final merge", e));
            }
        }
        if let Some(parts) = self.parts.take() {
            parts
                .remove()
                .map_err(|e| OutputError::wrap(&shown, "removing the checkpoint", e))?;
        }
        Ok(())
    }
}
