//! The Parquet files a path given to `cost` or `load` stands for: a file; a folder of
//! `*.parquet` exports; a dataset (a folder or an object storage URL with `batch_id=…`
//! folders), whose files lack the `batch_id` column their folder names. Files on object
//! storage are either left in place (read by range requests, [`Inputs::locate`]) or
//! downloaded to a temporary folder, removed when the inputs drop ([`Inputs::resolve`]).

use std::path::{Path, PathBuf};

use anyhow::Context;
use tempfile::TempDir;

use crate::error::UsageError;
use crate::store::layout;
use crate::store::{self, LocalCopy, Store};

/// One Parquet file to read.
#[derive(Debug)]
pub(crate) struct Source {
    /// Where it is on this machine.
    pub(crate) path: PathBuf,
    /// How messages name it (the URL of a downloaded object).
    pub(crate) shown: String,
    /// For a dataset file: the batch its folder names (the file has no batch_id column).
    pub(crate) batch_id: Option<String>,
    /// For an object left in place: its store (in [`Inputs::stores`]); `path` is then its
    /// name under the store's prefix.
    pub(crate) object: Option<usize>,
}

/// The files of some paths, with the downloads that back them.
#[derive(Default)]
pub(crate) struct Inputs {
    /// Every file, in the order given (a folder's files sorted by name).
    pub(crate) files: Vec<Source>,
    /// The object stores of the objects left in place.
    pub(crate) stores: Vec<Store>,
    /// Whether objects are downloaded (or left in place).
    download: bool,
    downloads: Vec<LocalCopy>,
    scratch: Option<TempDir>,
}

impl Inputs {
    /// Resolves every path; an error names the path that holds no export.
    pub(crate) fn resolve(paths: &[PathBuf]) -> anyhow::Result<Inputs> {
        Inputs::find(paths, true)
    }

    /// Like [`Inputs::resolve`], but objects stay where they are: nothing is written.
    pub(crate) fn locate(paths: &[PathBuf]) -> anyhow::Result<Inputs> {
        Inputs::find(paths, false)
    }

    fn find(paths: &[PathBuf], download: bool) -> anyhow::Result<Inputs> {
        let mut inputs = Inputs {
            download,
            ..Inputs::default()
        };
        for p in paths {
            inputs.add(p)?;
        }
        Ok(inputs)
    }

    fn add(&mut self, path: &Path) -> anyhow::Result<()> {
        let text = path.to_string_lossy();
        if store::is_url(&text) {
            return self.add_dataset(Store::open(&text)?, &text);
        }
        let meta = std::fs::metadata(path)
            .map_err(|e| UsageError::new(format!("cannot read '{}': {e}", path.display())))?;
        if !meta.is_dir() {
            self.files.push(Source {
                path: path.to_owned(),
                shown: path.display().to_string(),
                batch_id: None,
                object: None,
            });
            return Ok(());
        }
        let store = Store::Local(path.to_owned());
        if store
            .list("", true)?
            .iter()
            .any(|d| layout::batch_of(d).is_some())
        {
            return self.add_dataset(store, &text);
        }
        let mut files: Vec<PathBuf> = store
            .list("", false)?
            .into_iter()
            .filter(|n| !n.starts_with(['.', '_']) && n.to_ascii_lowercase().ends_with(".parquet"))
            .map(|n| path.join(n))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(UsageError::new(format!(
                "'{}' is not a sail-export export (a directory with no .parquet files and no \
                 batch_id=… folder of a dataset)",
                path.display()
            ))
            .into());
        }
        self.files.extend(files.into_iter().map(|f| Source {
            shown: f.display().to_string(),
            path: f,
            batch_id: None,
            object: None,
        }));
        Ok(())
    }

    /// Every data file of every batch of the dataset in `store`.
    fn add_dataset(&mut self, store: Store, shown: &str) -> anyhow::Result<()> {
        store.check()?;
        let before = self.files.len();
        for folder in store.list("", true)? {
            let Some(batch) = layout::batch_of(&folder) else {
                continue;
            };
            for name in store.list(&folder, false)? {
                if !layout::is_part(&name) {
                    continue;
                }
                let rel = format!("{folder}/{name}");
                let (path, object) = match &store {
                    Store::Local(root) => (root.join(&rel), None),
                    Store::Remote(_) if !self.download => {
                        (PathBuf::from(&rel), Some(self.stores.len()))
                    }
                    Store::Remote(_) => {
                        let copy = store.local_copy(&rel, self.scratch()?)?;
                        let path = copy.path().to_owned();
                        self.downloads.push(copy);
                        (path, None)
                    }
                };
                self.files.push(Source {
                    path,
                    shown: store.show(&rel),
                    batch_id: Some(batch.clone()),
                    object,
                });
            }
        }
        if self
            .files
            .iter()
            .any(|f| f.object == Some(self.stores.len()))
        {
            self.stores.push(store);
        }
        if self.files.len() == before {
            return Err(UsageError::new(format!(
                "'{shown}' holds no dataset file (batch_id=…/part-….parquet)"
            ))
            .into());
        }
        Ok(())
    }

    /// The temporary folder downloads go to.
    fn scratch(&mut self) -> anyhow::Result<&Path> {
        if self.scratch.is_none() {
            let dir = tempfile::Builder::new()
                .prefix(".sail-export-read-")
                .tempdir()
                .context("creating a temporary folder for downloads")?;
            self.scratch = Some(dir);
        }
        Ok(self.scratch.as_ref().map(TempDir::path).expect("just made"))
    }
}
