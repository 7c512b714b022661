//! The dataset sink: one batch's rows into a Hive-partitioned Parquet dataset, on disk or
//! on object storage (`crate::store`), named as `store::layout` says.
//!
//! A run checkpoints like the single-file Parquet sink (sorted Arrow parts in a local
//! folder, resumed after a kill) and publishes at the end one new file,
//! `batch_id=<id>/part-….parquet`, which appears complete or not at all. Rows already in the
//! dataset are never requested again. When the run's rows replace rows of earlier files
//! (pending or failed ids now fetched), those files are merged into the new one and
//! removed after it is published; a journal written first lets the next run finish a
//! replacement that a kill interrupted, so a reader sees each id once except, at most,
//! between such a kill and the next run. When every id of the batch is in, a marker is
//! put if absent: `sync` skips such a batch without a request.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use arrow_array::cast::AsArray;
use arrow_array::Array;
use arrow_array::RecordBatch;
use parquet::arrow::ProjectionMask;
use serde_json::json;

use super::failure::OutputError;
use super::parquet::merge::{self, Batches, Cursor};
use super::parquet::parts::{Parts, FAN_IN};
use super::parquet::{
    dataset_file_projection, open_dataset_file, schema, write_merged, READ_BATCH_ROWS,
};
use super::{RunStart, Sink};
use crate::cancel::Cancel;
use crate::ids::{IdList, IdSet};
use crate::row::{is_lost, FetchState, Row};
use crate::shard::Shard;
use crate::store::{layout, LocalCopy, Store};
use crate::summary::Summary;

/// What a dataset run writes into.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The batch.
    pub(crate) batch_id: String,
    /// The shard of the ids, if any.
    pub(crate) shard: Option<Shard>,
    /// Whether the run's ids are the whole batch (its status listed them), so that a run
    /// with every id fetched may mark the batch complete.
    pub(crate) whole_batch: bool,
}

impl Target {
    /// The local folder of this run's checkpoint and lock (created).
    pub(crate) fn scratch(&self, store: &Store) -> anyhow::Result<PathBuf> {
        let local = match store {
            Store::Local(root) => Some(root.as_path()),
            Store::Remote(_) => None,
        };
        let dir = layout::scratch(local, &store.show(""), &self.batch_id);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating the folder '{}'", dir.display()))?;
        Ok(dir)
    }

    /// The path whose lock (`sink::lock`) keeps this batch and shard to one writer.
    pub(crate) fn lock_target(&self, scratch: &Path) -> PathBuf {
        match self.shard {
            Some(s) => scratch.join(format!("writer-{}", s.file_tag())),
            None => scratch.join("writer"),
        }
    }
}

/// A batch's partition of a dataset, being written.
pub(crate) struct DatasetSink {
    store: Store,
    target: Target,
    partition: String,
    scratch: PathBuf,
    parts: Option<Parts>,
    /// The data files of the partition when the run began, and a local copy of each once read.
    existing: Vec<String>,
    copies: HashMap<String, LocalCopy>,
    /// Every custom_id of each data file read so far this run.
    file_ids: HashMap<String, IdSet>,
    /// The custom_ids stored as a final `not_found` in the data files read so far.
    lost_in_files: IdList,
    options_json: String,
    cancel: Cancel,
}

impl DatasetSink {
    /// Opens the partition of `target` in `store`, finishing a replacement an earlier run
    /// left half done and resuming that run's checkpoint.
    pub(crate) fn open(store: Store, target: Target, scratch: PathBuf) -> anyhow::Result<Self> {
        let partition = layout::partition(&target.batch_id);
        let parts = Parts::open(&scratch.join(layout::checkpoint(target.shard)))?;
        let mut sink = DatasetSink {
            store,
            partition,
            scratch,
            parts: Some(parts),
            existing: Vec::new(),
            copies: HashMap::new(),
            file_ids: HashMap::new(),
            lost_in_files: IdList::new(),
            options_json: String::new(),
            cancel: Cancel::default(),
            target,
        };
        sink.finish_replacements()?;
        sink.existing = sink
            .store
            .list(&sink.partition, false)?
            .into_iter()
            .filter(|n| layout::is_part(n))
            .collect();
        Ok(sink)
    }

    /// Completes the replacements whose journal is still there: when the new file was
    /// published, the files it replaces are removed; when it was not, they stay (they still
    /// hold their rows). Then the journal goes.
    fn finish_replacements(&mut self) -> anyhow::Result<()> {
        let meta = layout::meta_dir(&self.target.batch_id);
        let journals: Vec<String> = self
            .store
            .list(&meta, false)?
            .into_iter()
            .filter(|n| layout::is_journal(n))
            .collect();
        if journals.is_empty() {
            return Ok(());
        }
        let present = self.store.list(&self.partition, false)?;
        for name in journals {
            let rel = format!("{meta}/{name}");
            let Some(bytes) = self.store.get(&rel)? else {
                continue;
            };
            let j: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let published = j["part"]
                .as_str()
                .is_some_and(|p| present.iter().any(|n| n == p));
            if published {
                for old in j["replaces"].as_array().into_iter().flatten() {
                    if let Some(old) = old.as_str().filter(|o| layout::is_part(o)) {
                        self.store.delete(&format!("{}/{old}", self.partition))?;
                    }
                }
            }
            self.store.delete(&rel)?;
        }
        Ok(())
    }

    fn parts(&mut self) -> anyhow::Result<&mut Parts> {
        self.parts
            .as_mut()
            .context("the dataset sink was already finished")
    }

    /// A local copy of the data file `name` of the partition (downloaded once).
    fn copy(&mut self, name: &str) -> anyhow::Result<&Path> {
        if !self.copies.contains_key(name) {
            let rel = format!("{}/{name}", self.partition);
            let copy = self.store.local_copy(&rel, &self.scratch)?;
            self.copies.insert(name.to_owned(), copy);
        }
        Ok(self.copies[name].path())
    }

    /// The custom_ids of the data file `name` that are fetched; every id of the file is kept
    /// in `file_ids`, so a file is read once per run (for resume, then for the replacement
    /// check). On object storage only those two columns are fetched (range requests), not
    /// the file.
    fn scan_file(&mut self, name: &str) -> anyhow::Result<IdList> {
        let rel = format!("{}/{name}", self.partition);
        let shown = self.store.show(&rel);
        // custom_id, fetch_state, http_status, attempts and fetch_error lead a dataset
        // file's columns.
        let batches: Vec<RecordBatch> = match &self.store {
            Store::Remote(r) => {
                let (file_schema, batches) = r.read_columns(&rel, 5)?;
                dataset_file_projection(&file_schema, &shown, true)?;
                batches
            }
            Store::Local(_) => {
                let path = self.copy(name)?.to_owned();
                read_file(&path, &shown, &self.target.batch_id, Some(5))?
                    .collect::<anyhow::Result<_>>()?
            }
        };
        let fetched_state = FetchState::Fetched.as_str();
        let (mut all, mut fetched) = (IdList::new(), IdList::new());
        for b in batches {
            let column = |n: &str| {
                b.column_by_name(n)
                    .map(|c| c.as_string::<i32>().clone())
                    .with_context(|| format!("'{shown}' has no column {n}"))
            };
            let (cid, st) = (column("custom_id")?, column("fetch_state")?);
            let err = column("fetch_error")?;
            for i in 0..b.num_rows() {
                all.push(cid.value(i));
                if st.value(i) == fetched_state {
                    fetched.push(cid.value(i));
                } else if is_lost(st.value(i), (!err.is_null(i)).then(|| err.value(i))) {
                    self.lost_in_files.push(cid.value(i));
                }
            }
        }
        self.file_ids.insert(name.to_owned(), IdSet::from(all));
        Ok(fetched)
    }

    /// Merges the files whose rows this run replaces and this run's checkpoint into one new
    /// file and publishes it; then removes the replaced files.
    fn publish(&mut self) -> anyhow::Result<()> {
        let mut new_ids = IdList::new();
        for batches in self.parts()?.scan(vec![1])? {
            for b in batches {
                let b = b?;
                let cid = b.column(0).as_string::<i32>();
                (0..b.num_rows()).for_each(|i| new_ids.push(cid.value(i)));
            }
        }
        let mut replaced = Vec::new();
        for name in self.existing.clone() {
            if !self.file_ids.contains_key(&name) {
                self.scan_file(&name)?;
            }
            let held = &self.file_ids[&name];
            if new_ids.iter().any(|id| held.contains(id)) {
                replaced.push(name);
            }
        }
        drop(new_ids);
        self.file_ids.clear();
        let name = layout::new_part(self.target.shard);
        let rel = format!("{}/{name}", self.partition);
        let tmp = self.store.staging_path(&rel, &self.scratch)?;
        if let Err(e) = self.write_file(&replaced, &tmp) {
            std::fs::remove_file(&tmp).ok();
            return Err(e);
        }
        let journal = layout::journal(&self.target.batch_id, &name);
        if !replaced.is_empty() {
            let j = json!({ "part": name, "replaces": replaced });
            self.store
                .put_if_absent(&journal, j.to_string().into_bytes())?;
        }
        if let Err(e) = self.store.publish(&tmp, &rel, &self.cancel) {
            std::fs::remove_file(&tmp).ok();
            return Err(e);
        }
        for old in &replaced {
            self.store.delete(&format!("{}/{old}", self.partition))?;
        }
        if !replaced.is_empty() {
            self.store.delete(&journal)?;
        }
        Ok(())
    }

    /// Writes the merge of `replaced` (oldest first) and the checkpoint into `tmp`, fsynced.
    fn write_file(&mut self, replaced: &[String], tmp: &Path) -> anyhow::Result<u64> {
        self.cancel.check()?;
        let max = FAN_IN.saturating_sub(replaced.len()).max(1);
        let cancel = self.cancel.clone();
        self.parts()?.reduce(max, &cancel)?;
        crate::memory::release_free_pages();
        let mut sources: Vec<Cursor> = Vec::new();
        for name in replaced {
            let shown = self.store.show(&format!("{}/{name}", self.partition));
            let path = self.copy(name)?.to_owned();
            let batches = read_file(&path, &shown, &self.target.batch_id, None)?;
            sources.extend(Cursor::open(shown, batches)?);
        }
        sources.extend(self.parts()?.all_cursors()?);
        write_merged(tmp, sources, &self.options_json, true, &cancel)
    }

    /// Puts the batch's completion marker if this run had every id of the batch and
    /// settled them all: fetched, or final `not_found` (counted in the marker's `lost`).
    fn mark(&self, summary: &Summary) -> anyhow::Result<()> {
        let all_in = self.target.whole_batch
            && self.target.shard.is_none()
            && summary.stopped.is_none()
            && summary.total > 0
            && summary.settled();
        if !all_in {
            return Ok(());
        }
        let marker = json!({
            "batch_id": self.target.batch_id,
            "rows": summary.total,
            "lost": summary.lost,
            "completed_at": crate::time::utc_text(crate::time::now_unix()),
            "sail_export": env!("CARGO_PKG_VERSION"),
        });
        let rel = layout::complete_marker(&self.target.batch_id);
        self.store
            .put_if_absent(&rel, serde_json::to_vec_pretty(&marker)?)
            .map(drop)
    }
}

/// Batches of the dataset file `path` (shown as `shown`) of `batch_id`, in the export
/// schema: `batch_id` put back in front, columns added since the file was written as NULL.
/// With `columns`, only the first `columns` columns of the file (after `batch_id`).
pub(crate) fn read_file(
    path: &Path,
    shown: &str,
    batch_id: &str,
    columns: Option<usize>,
) -> anyhow::Result<Batches> {
    let (builder, _) = open_dataset_file(path, shown, true)?;
    let builder = match columns {
        Some(n) => {
            let mask = ProjectionMask::roots(builder.parquet_schema(), 0..n);
            builder.with_projection(mask)
        }
        None => builder,
    };
    let reader = builder.with_batch_size(READ_BATCH_ROWS).build()?;
    let (id, name) = (batch_id.to_owned(), shown.to_owned());
    Ok(Box::new(reader.map(move |b| {
        let b = schema::with_batch_id(b?, &id)?;
        match columns {
            Some(_) => Ok(b),
            None => merge::exact(&name, schema::upgrade(b)),
        }
    })))
}

impl Sink for DatasetSink {
    fn fetched_ids(&mut self, batch_id: &str) -> anyhow::Result<IdSet> {
        anyhow::ensure!(
            batch_id == self.target.batch_id,
            "a dataset sink serves one batch"
        );
        let mut ids = IdList::new();
        for name in self.existing.clone() {
            for id in self.scan_file(&name)?.iter() {
                ids.push(id);
            }
        }
        let fetched = FetchState::Fetched.as_str();
        for batches in self.parts()?.scan(vec![1, 2])? {
            for b in batches {
                let b = b?;
                let (cid, st) = (
                    b.column(0).as_string::<i32>(),
                    b.column(1).as_string::<i32>(),
                );
                for i in 0..b.num_rows() {
                    if st.value(i) == fetched {
                        ids.push(cid.value(i));
                    }
                }
            }
        }
        Ok(IdSet::from(ids))
    }

    fn lost_ids(&mut self, batch_id: &str) -> anyhow::Result<IdSet> {
        anyhow::ensure!(
            batch_id == self.target.batch_id,
            "a dataset sink serves one batch"
        );
        for name in self.existing.clone() {
            if !self.file_ids.contains_key(&name) {
                self.scan_file(&name)?;
            }
        }
        let mut ids: IdList = self.lost_in_files.iter().collect();
        let error = super::parquet::schema::index_of("fetch_error");
        for batches in self.parts()?.scan(vec![1, 2, error])? {
            for b in batches {
                let b = b?;
                let (cid, st, err) = (
                    b.column(0).as_string::<i32>(),
                    b.column(1).as_string::<i32>(),
                    b.column(2).as_string::<i32>(),
                );
                for i in 0..b.num_rows() {
                    if is_lost(st.value(i), (!err.is_null(i)).then(|| err.value(i))) {
                        ids.push(cid.value(i));
                    }
                }
            }
        }
        Ok(IdSet::from(ids))
    }

    fn begin_run(&mut self, run: &RunStart) -> anyhow::Result<()> {
        self.options_json = run.options_json.clone();
        Ok(())
    }

    fn write(&mut self, rows: &[Row]) -> anyhow::Result<()> {
        let shown = self.store.show(&self.partition);
        self.parts()?
            .add(rows)
            .map_err(|e| OutputError::wrap(&shown, "checkpoint", e))
    }

    fn set_cancel(&mut self, cancel: Cancel) {
        self.cancel = cancel;
    }

    fn finish(&mut self, summary: &Summary) -> anyhow::Result<()> {
        if !self.parts()?.is_empty() {
            let shown = self.store.show(&self.partition);
            self.publish()
                .map_err(|e| OutputError::wrap(&shown, "publishing the new file", e))?;
        }
        if let Some(parts) = self.parts.take() {
            parts.remove()?;
        }
        self.copies.clear();
        self.mark(summary)
    }
}

#[cfg(test)]
mod tests;
