//! The checkpoint beside a Parquet output: a folder of sorted Arrow IPC parts, one per
//! `write`, compacted as they accumulate and reduced to a bounded number before the final
//! merge. A part appears under its final name only once it is complete (written to a
//! temporary name, then renamed), so a killed process leaves every committed part readable
//! and loses only the write in flight.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;
use arrow_ipc::reader::FileReader;
use arrow_ipc::writer::FileWriter;

use super::merge::{self, Batches, Cursor, Merger};
use super::schema;
use crate::cancel::Cancel;
use crate::row::Row;

/// Parts of one level merged into one part of the next level, when this many accumulate;
/// also the most sources a merge reads at once.
pub(crate) const FAN_IN: usize = 16;

/// One complete part: rows of writes `lo..=hi`, merged `level` times.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    level: u32,
    lo: u64,
    hi: u64,
}

impl Part {
    fn file_name(&self) -> String {
        format!("{:02}-{:012}-{:012}.arrow", self.level, self.lo, self.hi)
    }

    fn parse(name: &str) -> Option<Part> {
        let stem = name.strip_suffix(".arrow")?;
        let mut it = stem.split('-');
        let part = Part {
            level: it.next()?.parse().ok()?,
            lo: it.next()?.parse().ok()?,
            hi: it.next()?.parse().ok()?,
        };
        (it.next().is_none() && part.lo <= part.hi).then_some(part)
    }

    /// Whether this part's writes are all in `other` (a leftover input of a compaction
    /// that completed but was killed before removing its inputs).
    fn within(&self, other: &Part) -> bool {
        self != other && other.lo <= self.lo && self.hi <= other.hi
    }
}

/// The checkpoint folder and its parts, oldest first.
pub(crate) struct Parts {
    dir: PathBuf,
    parts: Vec<Part>,
    next: u64,
    ongoing: Option<Compaction>,
}

/// A compaction in progress, advanced a little by every `add` so that no single write
/// stalls the pipeline (and no backlog of rows piles up behind it).
struct Compaction {
    inputs: Vec<Part>,
    target: Part,
    merger: Merger,
    writer: FileWriter<BufWriter<File>>,
    tmp: PathBuf,
}

/// Rows of compaction work done per row written (each row is merged once per level, so
/// this keeps up with up to this many levels), and at least per write.
const WORK_PER_ROW: usize = 4;
const WORK_MIN: usize = 1024;

impl Parts {
    /// Opens (creating if needed) the checkpoint folder `dir`, recovering from a killed
    /// run: unfinished temporary files and already-merged inputs are removed.
    pub(crate) fn open(dir: &Path) -> anyhow::Result<Parts> {
        fs::create_dir_all(dir)
            .with_context(|| format!("creating the checkpoint folder '{}'", dir.display()))?;
        let mut parts = Vec::new();
        for entry in fs::read_dir(dir).with_context(|| format!("reading '{}'", dir.display()))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            match Part::parse(&name) {
                Some(p) => parts.push(p),
                None if name.ends_with(".tmp") => fs::remove_file(entry.path())?,
                None => {}
            }
        }
        let leftovers: Vec<Part> = parts
            .iter()
            .filter(|p| parts.iter().any(|o| p.within(o)))
            .cloned()
            .collect();
        for p in &leftovers {
            fs::remove_file(dir.join(p.file_name()))?;
        }
        parts.retain(|p| !leftovers.contains(p));
        parts.sort_by_key(|p| p.lo);
        let next = parts.iter().map(|p| p.hi + 1).max().unwrap_or(1);
        Ok(Parts {
            dir: dir.to_owned(),
            parts,
            next,
            ongoing: None,
        })
    }

    /// Whether there is no part.
    pub(crate) fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Stores `rows` as one new part (sorted, one row per key, later rows replacing
    /// earlier ones by the upsert rule), then compacts.
    pub(crate) fn add(&mut self, rows: &[Row]) -> anyhow::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by(|&a, &b| key(&rows[a]).cmp(&key(&rows[b])));
        let mut kept: Vec<usize> = Vec::with_capacity(order.len());
        for i in order {
            match kept.last_mut() {
                Some(k) if key(&rows[*k]) == key(&rows[i]) => {
                    if merge::replaces(rows[i].fetch_state.as_str(), rows[*k].fetch_state.as_str())
                    {
                        *k = i;
                    }
                }
                _ => kept.push(i),
            }
        }
        let part = Part {
            level: 0,
            lo: self.next,
            hi: self.next,
        };
        self.next += 1;
        self.write_part(&part, |w| {
            // Small batches (rows and bytes, as merged ones): a merge holds one batch of
            // every part at a time, and only one small batch is built here at a time.
            let mut rest = kept.as_slice();
            while !rest.is_empty() {
                let (mut n, mut bytes) = (0, 0);
                while n < rest.len() && n < merge::OUT_ROWS && bytes < merge::OUT_BYTES {
                    bytes += rows[rest[n]].text_bytes();
                    n += 1;
                }
                w.write(&schema::to_batch(rows, &rest[..n]))?;
                rest = &rest[n..];
            }
            Ok(())
        })?;
        self.parts.push(part);
        self.compact((rows.len() * WORK_PER_ROW).max(WORK_MIN))
    }

    /// Does about `budget` rows of compaction work: continues the compaction in progress,
    /// or starts one when `FAN_IN` neighbouring parts share a level. The number of parts
    /// (and of batches the final merge holds) thus grows with the log of the writes.
    fn compact(&mut self, mut budget: usize) -> anyhow::Result<()> {
        while budget > 0 {
            let Some(c) = self.ongoing.as_mut() else {
                if !self.start_compaction()? {
                    return Ok(());
                }
                continue;
            };
            match c.merger.next_batch()? {
                Some(b) => {
                    budget = budget.saturating_sub(b.num_rows());
                    c.writer.write(&b)?;
                }
                None => self.end_compaction()?,
            }
        }
        Ok(())
    }

    /// Starts merging the oldest run of `FAN_IN` parts of one level; `false` if none.
    fn start_compaction(&mut self) -> anyhow::Result<bool> {
        let Some(i) = (0..=self.parts.len().saturating_sub(FAN_IN)).find(|&i| {
            self.parts.len() >= FAN_IN
                && self.parts[i..i + FAN_IN]
                    .iter()
                    .all(|p| p.level == self.parts[i].level)
        }) else {
            return Ok(false);
        };
        let inputs = self.parts[i..i + FAN_IN].to_vec();
        let target = Part {
            level: inputs[0].level + 1,
            lo: inputs[0].lo,
            hi: inputs[FAN_IN - 1].hi,
        };
        let (writer, tmp) = self.create_part(&target)?;
        self.ongoing = Some(Compaction {
            merger: Merger::new(self.cursors(&inputs)?),
            inputs,
            target,
            writer,
            tmp,
        });
        Ok(true)
    }

    /// Puts the finished compaction's part in place of its inputs.
    fn end_compaction(&mut self) -> anyhow::Result<()> {
        let Some(c) = self.ongoing.take() else {
            return Ok(());
        };
        self.commit_part(&c.target, c.writer, &c.tmp)?;
        self.replace(&c.inputs, c.target)
    }

    /// Puts a committed merged part in place of its neighbouring `inputs`, whose files are
    /// removed.
    fn replace(&mut self, inputs: &[Part], merged: Part) -> anyhow::Result<()> {
        for p in inputs {
            fs::remove_file(self.dir.join(p.file_name()))?;
        }
        let at = self
            .parts
            .iter()
            .position(|p| *p == inputs[0])
            .context("a compacted part vanished")?;
        self.parts.splice(at..at + inputs.len(), [merged]);
        Ok(())
    }

    /// Writes a part under a temporary name, then renames it into place.
    fn write_part(
        &self,
        part: &Part,
        fill: impl FnOnce(&mut FileWriter<BufWriter<File>>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let (mut w, tmp) = self.create_part(part)?;
        fill(&mut w)?;
        self.commit_part(part, w, &tmp)
    }

    /// Opens the temporary file of a part.
    fn create_part(&self, part: &Part) -> anyhow::Result<(FileWriter<BufWriter<File>>, PathBuf)> {
        let tmp = self.dir.join(part.file_name()).with_extension("tmp");
        let file = File::create(&tmp)
            .with_context(|| format!("creating checkpoint part '{}'", tmp.display()))?;
        let w = FileWriter::try_new(BufWriter::with_capacity(64 << 10, file), &schema::schema())?;
        Ok((w, tmp))
    }

    /// Completes a part's temporary file and renames it to its final name.
    fn commit_part(
        &self,
        part: &Part,
        mut w: FileWriter<BufWriter<File>>,
        tmp: &Path,
    ) -> anyhow::Result<()> {
        w.finish()?;
        w.into_inner()?
            .into_inner()
            .map_err(|e| e.into_error())
            .context("writing a checkpoint part")?;
        let path = self.dir.join(part.file_name());
        fs::rename(tmp, &path)
            .with_context(|| format!("renaming checkpoint part '{}'", tmp.display()))?;
        Ok(())
    }

    /// Drops a compaction in progress (its inputs are still parts), freeing its memory.
    fn stop_compaction(&mut self) {
        if let Some(c) = self.ongoing.take() {
            drop(c.writer);
            fs::remove_file(&c.tmp).ok();
        }
    }

    /// Merges the newest parts, at most `FAN_IN` at a time, until no more than `max`
    /// parts are left, so the final merge reads a bounded number of sources however many
    /// writes a long run made (every level would otherwise leave up to `FAN_IN - 1`).
    /// Compaction merges the oldest parts first, so the newest are the smallest and this
    /// rewrites a small share of the rows. A compaction in progress is dropped first. Once
    /// `cancel` is set, the merge under way stops at its next batch (its inputs stay).
    pub(crate) fn reduce(&mut self, max: usize, cancel: &Cancel) -> anyhow::Result<()> {
        self.stop_compaction();
        let max = max.max(1);
        while self.parts.len() > max {
            let take = (self.parts.len() - max + 1).min(FAN_IN);
            let at = self.parts.len() - take;
            let inputs = self.parts[at..].to_vec();
            let target = Part {
                level: inputs.iter().map(|p| p.level).max().unwrap_or(0) + 1,
                lo: inputs[0].lo,
                hi: inputs[take - 1].hi,
            };
            let cursors = self.cursors(&inputs)?;
            self.write_part(&target, |w| {
                merge::merge(cursors, |b| {
                    cancel.check()?;
                    w.write(&b).map_err(Into::into)
                })
                .map(drop)
            })?;
            self.replace(&inputs, target)?;
        }
        Ok(())
    }

    /// Cursors over every part, oldest first, for the final merge; a compaction in
    /// progress is dropped first.
    pub(crate) fn all_cursors(&mut self) -> anyhow::Result<Vec<Cursor>> {
        self.stop_compaction();
        self.cursors(&self.parts)
    }

    fn cursors(&self, parts: &[Part]) -> anyhow::Result<Vec<Cursor>> {
        let mut out = Vec::with_capacity(parts.len());
        for p in parts {
            let path = self.dir.join(p.file_name());
            if let Some(c) = Cursor::open(path.display().to_string(), read_part(&path, None)?)? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Every batch of every part, oldest first, reading only `columns` of each.
    pub(crate) fn scan(&self, columns: Vec<usize>) -> anyhow::Result<Vec<Batches>> {
        self.parts
            .iter()
            .map(|p| read_part(&self.dir.join(p.file_name()), Some(columns.clone())))
            .collect()
    }

    /// Removes the checkpoint folder and everything in it.
    pub(crate) fn remove(mut self) -> anyhow::Result<()> {
        self.ongoing = None;
        fs::remove_dir_all(&self.dir)
            .with_context(|| format!("removing the checkpoint folder '{}'", self.dir.display()))
    }
}

fn key(r: &Row) -> (&str, &str) {
    (&r.batch_id, &r.custom_id)
}

/// The batches of one part file.
fn read_part(path: &Path, columns: Option<Vec<usize>>) -> anyhow::Result<Batches> {
    let file = File::open(path).with_context(|| format!("opening '{}'", path.display()))?;
    let reader = FileReader::try_new_buffered(file, columns)
        .with_context(|| format!("reading checkpoint part '{}'", path.display()))?;
    Ok(Box::new(reader.map(|b| b.map_err(Into::into))))
}

#[cfg(test)]
#[path = "parts_tests.rs"]
mod tests;
