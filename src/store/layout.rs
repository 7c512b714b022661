//! The names in a dataset, relative to its root:
//!
//! ```text
//! batch_id=<escaped id>/part-<UTC time>-<random>[-shard-K-of-N].parquet   the data
//! _sail_export/<escaped id>/complete.json     every id of the batch is in (put if absent)
//! _sail_export/<escaped id>/commit-<…>.json   a replacement in progress (see the sink)
//! ```
//!
//! Readers skip names that start with `_` or `.` (pyarrow, Spark, Hive, Trino, Athena), and
//! a `*.parquet` glob (DuckDB) matches only finished parts: what is being written is named
//! `.part-….parquet.tmp`.

use std::path::PathBuf;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::shard::Shard;

/// The folder of sail-export's own files in a dataset.
pub(crate) const META: &str = "_sail_export";
/// The partition column.
const KEY: &str = "batch_id=";

/// Everything but ASCII letters, digits, `-`, `_` and `.` is percent-encoded in a folder
/// name, as Hive escapes partition values (`=`, `/`, `%`, `:` and the rest).
const ESCAPE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// `batch_id` as one folder name.
pub(crate) fn escape(batch_id: &str) -> String {
    utf8_percent_encode(batch_id, ESCAPE).to_string()
}

/// The partition folder of `batch_id`: `batch_id=<escaped>`.
pub(crate) fn partition(batch_id: &str) -> String {
    format!("{KEY}{}", escape(batch_id))
}

/// The batch id a partition folder name stands for.
pub(crate) fn batch_of(folder: &str) -> Option<String> {
    let value = folder.strip_prefix(KEY)?;
    let id = percent_decode_str(value).decode_utf8().ok()?;
    (!id.is_empty()).then(|| id.into_owned())
}

/// Whether `name` is a finished data file of ours.
pub(crate) fn is_part(name: &str) -> bool {
    name.starts_with("part-") && name.ends_with(".parquet")
}

/// A new data file name, unique across processes and machines: the UTC time, 64 random
/// bits, and the shard when there is one. Names sort by time.
pub(crate) fn new_part(shard: Option<Shard>) -> String {
    let time = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let tag = shard
        .map(|s| format!("-{}", s.file_tag()))
        .unwrap_or_default();
    format!("part-{time}-{:016x}{tag}.parquet", fastrand::u64(..))
}

/// The folder of sail-export's files about `batch_id`.
pub(crate) fn meta_dir(batch_id: &str) -> String {
    format!("{META}/{}", escape(batch_id))
}

/// The marker that says every id of `batch_id` is in the dataset.
pub(crate) fn complete_marker(batch_id: &str) -> String {
    format!("{}/complete.json", meta_dir(batch_id))
}

/// The journal of a replacement that publishes `part`.
pub(crate) fn journal(batch_id: &str, part: &str) -> String {
    format!("{}/commit-{part}.json", meta_dir(batch_id))
}

/// Whether `name` (in [`meta_dir`]) is a journal.
pub(crate) fn is_journal(name: &str) -> bool {
    name.starts_with("commit-") && name.ends_with(".json")
}

/// The local folder of a run's checkpoint and lock: in the dataset's own `_sail_export`
/// folder when it is local; for object storage in the user's cache folder
/// (`$XDG_CACHE_HOME`, else `~/.cache`, else the temporary folder), one per dataset URL,
/// so a rerun on the same machine resumes from it.
pub(crate) fn scratch(local_root: Option<&std::path::Path>, url: &str, batch_id: &str) -> PathBuf {
    match local_root {
        Some(root) => root.join(meta_dir(batch_id)),
        None => {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .unwrap_or_else(std::env::temp_dir);
            let site = format!("{:016x}", crate::shard::fnv1a64(url.as_bytes()));
            cache.join("sail-export").join(site).join(escape(batch_id))
        }
    }
}

/// The checkpoint folder's name within [`scratch`], one per shard.
pub(crate) fn checkpoint(shard: Option<Shard>) -> String {
    match shard {
        Some(s) => format!("checkpoint-{}", s.file_tag()),
        None => "checkpoint".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_escape_and_come_back() {
        for id in ["batch_abc123", "b=1", "a%b", "ünï", "x:y*z", "..a"] {
            let folder = partition(id);
            assert!(folder.starts_with("batch_id="), "{folder}");
            assert!(!folder[9..].contains(['=', '/']), "{folder}");
            assert_eq!(batch_of(&folder).as_deref(), Some(id), "{folder}");
        }
        assert_eq!(partition("b=1"), "batch_id=b%3D1");
        assert_eq!(batch_of("batch_id="), None);
        assert_eq!(batch_of("other=1"), None);
    }

    #[test]
    fn part_names_are_unique_sortable_and_recognised() {
        let a = new_part(None);
        let b = new_part(Some(Shard { index: 1, count: 3 }));
        assert_ne!(a, b);
        assert!(is_part(&a) && is_part(&b), "{a} {b}");
        assert!(b.ends_with("-shard-1-of-3.parquet"), "{b}");
        assert!(!is_part(".part-x.parquet.tmp"));
        assert!(!is_part("part-x.parquet.tmp"));
        assert!(is_journal(&journal("b", &a)[meta_dir("b").len() + 1..]));
    }
}
