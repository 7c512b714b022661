//! Where a dataset lives: a local folder, or a prefix on object storage (`s3://`, `gs://`,
//! `az://`) through `object_store`. One small blocking interface over both, so the dataset
//! sink and the readers do not care which: list, read a copy, publish a finished file so
//! that it appears complete or not at all, put a small object only if absent, delete.
//!
//! Local files appear by `rename` from a `.`-prefixed temporary name in the same folder.
//! Objects appear when their upload completes (one PUT, or a multipart upload for large
//! files); a failed upload is aborted. Object storage calls run on a runtime of their own,
//! so they can be made from the writer thread and from async code alike. `read` streams
//! chosen columns of a local Parquet file; `remote` does the same by range requests;
//! `layout` names what a dataset holds, for the sink that writes it and the readers.

pub(crate) mod layout;
pub(crate) mod read;
mod remote;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context};
use futures::StreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::cancel::Cancel;
use crate::error::UsageError;

use self::remote::{describe, runtime, Remote};

/// A dataset's root.
pub(crate) enum Store {
    /// A local folder.
    Local(PathBuf),
    /// A prefix in a bucket.
    Remote(Remote),
}

/// Whether `out` names object storage: `s3://`, `s3a://`, `gs://`, `az://`, `abfs://`,
/// `azure://`.
pub(crate) fn is_url(out: &str) -> bool {
    ["s3://", "s3a://", "gs://", "az://", "abfs://", "azure://"]
        .iter()
        .any(|s| out.len() > s.len() && out[..s.len()].eq_ignore_ascii_case(s))
}

impl Store {
    /// The store for `root`: a URL of object storage (credentials and endpoint from the
    /// provider's standard environment variables) or a local folder.
    pub(crate) fn open(root: &str) -> anyhow::Result<Store> {
        if !is_url(root) {
            return Ok(Store::Local(PathBuf::from(root)));
        }
        crate::api::tls::install_provider();
        let scheme = root.split("://").next().unwrap_or("").to_ascii_lowercase();
        let bad = |e: object_store::Error| {
            UsageError::new(format!("cannot use '{root}' as an output: {e}"))
        };
        let store: Arc<dyn ObjectStore> = match scheme.as_str() {
            "s3" | "s3a" => Arc::new(
                object_store::aws::AmazonS3Builder::from_env()
                    .with_url(root)
                    .build()
                    .map_err(bad)?,
            ),
            "gs" => Arc::new(
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(root)
                    .build()
                    .map_err(bad)?,
            ),
            _ => Arc::new(
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(root)
                    .build()
                    .map_err(bad)?,
            ),
        };
        runtime()?;
        // The part after the bucket (or container) is the prefix.
        let after_scheme = &root[scheme.len() + 3..];
        let path = after_scheme.split_once('/').map_or("", |(_, p)| p);
        let prefix = ObjPath::parse(path.trim_matches('/'))
            .map_err(|e| UsageError::new(format!("'{root}' is not a usable prefix: {e}")))?;
        Ok(Store::Remote(Remote {
            url: root.trim_end_matches('/').to_owned(),
            store,
            prefix,
        }))
    }

    /// How `rel` is shown to people: a local path or a URL.
    pub(crate) fn show(&self, rel: &str) -> String {
        match self {
            Store::Local(root) => root.join(rel).display().to_string(),
            Store::Remote(r) if rel.is_empty() => r.url.clone(),
            Store::Remote(r) => format!("{}/{rel}", r.url),
        }
    }

    /// Checks that the root can be read (the bucket exists, the credentials are good, the
    /// endpoint answers), before anything is requested or written.
    pub(crate) fn check(&self) -> anyhow::Result<()> {
        match self {
            Store::Local(root) if root.is_dir() => Ok(()),
            // The dataset's own folder is made, as a file would be, in a folder that exists.
            Store::Local(root) => match root.parent() {
                Some(p) if !p.as_os_str().is_empty() && !p.is_dir() => {
                    Err(UsageError::new(format!(
                        "cannot write the dataset '{}': the folder '{}' does not exist",
                        root.display(),
                        p.display()
                    ))
                    .into())
                }
                _ => std::fs::create_dir(root)
                    .or_else(|e| if root.is_dir() { Ok(()) } else { Err(e) })
                    .with_context(|| format!("creating the dataset folder '{}'", root.display())),
            },
            Store::Remote(r) => r
                .block_on(r.store.list_with_delimiter(Some(&r.prefix)))
                .map(drop)
                .map_err(|e| anyhow!("cannot read '{}': {}", r.url, describe(&e))),
        }
    }

    /// The names of the entries directly under `rel` (files and, with `dirs`, folders); no
    /// entries when `rel` does not exist.
    pub(crate) fn list(&self, rel: &str, dirs: bool) -> anyhow::Result<Vec<String>> {
        match self {
            Store::Local(root) => {
                let dir = root.join(rel);
                let entries = match std::fs::read_dir(&dir) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                    Err(e) => {
                        return Err(e).with_context(|| format!("listing '{}'", dir.display()))
                    }
                };
                let mut names = Vec::new();
                for e in entries {
                    let e = e?;
                    if e.file_type()?.is_dir() == dirs {
                        names.push(e.file_name().to_string_lossy().into_owned());
                    }
                }
                names.sort();
                Ok(names)
            }
            Store::Remote(r) => {
                let at = r.path(rel);
                let listed = r
                    .block_on(r.store.list_with_delimiter(Some(&at)))
                    .map_err(|e| anyhow!("cannot list '{}': {}", self.show(rel), describe(&e)))?;
                let mut names: Vec<String> = match dirs {
                    true => listed
                        .common_prefixes
                        .iter()
                        .filter_map(|p| p.filename().map(str::to_owned))
                        .collect(),
                    false => listed
                        .objects
                        .iter()
                        .filter_map(|o| o.location.filename().map(str::to_owned))
                        .collect(),
                };
                names.sort();
                Ok(names)
            }
        }
    }

    /// A local file with the content of `rel`: the file itself when local, else a copy
    /// downloaded into `scratch` (removed when the returned handle drops).
    pub(crate) fn local_copy(&self, rel: &str, scratch: &Path) -> anyhow::Result<LocalCopy> {
        match self {
            Store::Local(root) => Ok(LocalCopy::Own(root.join(rel))),
            Store::Remote(r) => {
                let mut tmp = tempfile::Builder::new()
                    .prefix(".sail-export-dl-")
                    .tempfile_in(scratch)
                    .with_context(|| format!("creating a file in '{}'", scratch.display()))?;
                let at = r.path(rel);
                r.block_on(async {
                    let mut body = r.store.get(&at).await?.into_stream();
                    while let Some(chunk) = body.next().await {
                        tmp.write_all(&chunk?)
                            .map_err(|e| object_store::Error::Generic {
                                store: "local",
                                source: Box::new(e),
                            })?;
                    }
                    Ok::<_, object_store::Error>(())
                })
                .map_err(|e| anyhow!("cannot download '{}': {}", self.show(rel), describe(&e)))?;
                Ok(LocalCopy::Temp(tmp))
            }
        }
    }

    /// Reads the chosen columns of the Parquet file `rel` in place (a local file, or an
    /// object by range requests), batch by batch; see `Remote::stream_columns`.
    pub(crate) fn stream_columns(
        &self,
        rel: &str,
        choose: &(dyn Fn(&arrow_schema::Schema) -> anyhow::Result<Vec<usize>> + Sync),
        each: &mut (dyn FnMut(arrow_array::RecordBatch) -> anyhow::Result<()> + Send),
    ) -> anyhow::Result<()> {
        match self {
            Store::Local(root) => read::stream_columns(&root.join(rel), choose, each),
            Store::Remote(r) => r.stream_columns(rel, choose, each),
        }
    }

    /// Where to write a file that [`Store::publish`] will make appear as `rel` (its folder
    /// made): beside it under a `.`-prefixed name when local (so the rename stays on one
    /// file system and no reader lists it), in `scratch` otherwise.
    pub(crate) fn staging_path(&self, rel: &str, scratch: &Path) -> anyhow::Result<PathBuf> {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        let path = match self {
            Store::Local(root) => root.join(rel).with_file_name(format!(".{name}.tmp")),
            Store::Remote(_) => scratch.join(format!(".{name}.tmp")),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating '{}'", dir.display()))?;
        }
        Ok(path)
    }

    /// Makes the finished local file `file` appear as `rel`, complete: a rename (after an
    /// fsync of the file and then of its folder) locally, an upload otherwise. `file` is
    /// gone afterwards either way when this succeeds. An upload stops once `cancel` is set
    /// (a multipart upload is aborted), and nothing appears.
    pub(crate) fn publish(&self, file: &Path, rel: &str, cancel: &Cancel) -> anyhow::Result<()> {
        match self {
            Store::Local(root) => {
                let to = root.join(rel);
                if let Some(dir) = to.parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating '{}'", dir.display()))?;
                }
                std::fs::rename(file, &to).with_context(|| {
                    format!("renaming '{}' to '{}'", file.display(), to.display())
                })?;
                if let Some(dir) = to.parent() {
                    File::open(dir).and_then(|d| d.sync_all()).ok();
                }
                Ok(())
            }
            Store::Remote(r) => {
                r.upload(file, &r.path(rel), cancel).map_err(
                    |e| match crate::cancel::is_cancelled(&e) {
                        true => e,
                        false => anyhow!("cannot upload '{}': {e:#}", self.show(rel)),
                    },
                )?;
                std::fs::remove_file(file).ok();
                Ok(())
            }
        }
    }

    /// Writes the small object `rel` unless it exists; `false` when it did. Locally the
    /// content goes to a temporary file that is then hard-linked into place (which fails
    /// when the name is taken), so a reader never sees it partly written.
    pub(crate) fn put_if_absent(&self, rel: &str, bytes: Vec<u8>) -> anyhow::Result<bool> {
        match self {
            Store::Local(root) => {
                let to = root.join(rel);
                let dir = to.parent().unwrap_or(root);
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating '{}'", dir.display()))?;
                let mut tmp = tempfile::Builder::new()
                    .prefix(".sail-export-put-")
                    .tempfile_in(dir)?;
                tmp.write_all(&bytes)?;
                tmp.as_file().sync_all()?;
                match std::fs::hard_link(tmp.path(), &to) {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                    Err(e) => Err(e).with_context(|| format!("writing '{}'", to.display())),
                }
            }
            Store::Remote(r) => {
                let at = r.path(rel);
                let opts = PutOptions::from(PutMode::Create);
                let payload = PutPayload::from(bytes.clone());
                match r.block_on(r.store.put_opts(&at, payload, opts)) {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
                    // A store without conditional writes: check, then write.
                    Err(
                        object_store::Error::NotImplemented { .. }
                        | object_store::Error::NotSupported { .. },
                    ) => {
                        if self.get(rel)?.is_some() {
                            return Ok(false);
                        }
                        r.block_on(r.store.put(&at, PutPayload::from(bytes)))
                            .map_err(|e| {
                                anyhow!("cannot write '{}': {}", self.show(rel), describe(&e))
                            })?;
                        Ok(true)
                    }
                    Err(e) => Err(anyhow!(
                        "cannot write '{}': {}",
                        self.show(rel),
                        describe(&e)
                    )),
                }
            }
        }
    }

    /// The content of the small object `rel`, or `None` when there is none.
    pub(crate) fn get(&self, rel: &str) -> anyhow::Result<Option<Vec<u8>>> {
        match self {
            Store::Local(root) => match std::fs::read(root.join(rel)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e).with_context(|| format!("reading '{}'", self.show(rel))),
            },
            Store::Remote(r) => {
                let at = r.path(rel);
                match r.block_on(async { r.store.get(&at).await?.bytes().await }) {
                    Ok(b) => Ok(Some(b.to_vec())),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(anyhow!(
                        "cannot read '{}': {}",
                        self.show(rel),
                        describe(&e)
                    )),
                }
            }
        }
    }

    /// Removes `rel`; one that is not there is not an error.
    pub(crate) fn delete(&self, rel: &str) -> anyhow::Result<()> {
        match self {
            Store::Local(root) => match std::fs::remove_file(root.join(rel)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(e).with_context(|| format!("removing '{}'", self.show(rel)))
                }
                _ => Ok(()),
            },
            Store::Remote(r) => match r.block_on(r.store.delete(&r.path(rel))) {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(anyhow!(
                    "cannot remove '{}': {}",
                    self.show(rel),
                    describe(&e)
                )),
            },
        }
    }
}

/// A local file with an object's content.
pub(crate) enum LocalCopy {
    /// The dataset's own file.
    Own(PathBuf),
    /// A downloaded copy, removed on drop.
    Temp(tempfile::NamedTempFile),
}

impl LocalCopy {
    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        match self {
            LocalCopy::Own(p) => p,
            LocalCopy::Temp(t) => t.path(),
        }
    }
}

#[cfg(test)]
mod tests;
