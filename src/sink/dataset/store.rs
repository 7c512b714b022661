//! Where a dataset lives: a local folder, or a prefix on object storage (`s3://`, `gs://`,
//! `az://`) through `object_store`. One small blocking interface over both, so the dataset
//! sink and the readers do not care which: list, read a copy, publish a finished file so
//! that it appears complete or not at all, put a small object only if absent, delete.
//!
//! Local files appear by `rename` from a `.`-prefixed temporary name in the same folder.
//! Objects appear when their upload completes (one PUT, or a multipart upload for large
//! files); a failed upload is aborted. Object storage calls run on a runtime of their own,
//! so they can be made from the writer thread and from async code alike.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context};
use futures::StreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart};

use crate::error::UsageError;

/// Files up to this size are uploaded in one PUT; larger ones in parts of this size.
const PART_BYTES: usize = 16 << 20;
/// Parts of one multipart upload in flight at once.
const UPLOADS_IN_FLIGHT: usize = 4;

/// A dataset's root.
pub(crate) enum Store {
    /// A local folder.
    Local(PathBuf),
    /// A prefix in a bucket.
    Remote(Remote),
}

/// A bucket prefix and the client for it.
pub(crate) struct Remote {
    url: String,
    store: Arc<dyn ObjectStore>,
    prefix: ObjPath,
}

/// The runtime object storage calls run on: one worker, made on first use and kept for
/// the life of the process (a runtime may not be dropped inside async code).
fn runtime() -> anyhow::Result<&'static tokio::runtime::Runtime> {
    static RT: std::sync::OnceLock<Result<tokio::runtime::Runtime, String>> =
        std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sail-export-store")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| anyhow!("cannot start the object storage runtime: {e}"))
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
    /// gone afterwards either way when this succeeds.
    pub(crate) fn publish(&self, file: &Path, rel: &str) -> anyhow::Result<()> {
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
                r.upload(file, &r.path(rel))
                    .map_err(|e| anyhow!("cannot upload '{}': {e:#}", self.show(rel)))?;
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

impl Remote {
    fn path(&self, rel: &str) -> ObjPath {
        rel.split('/')
            .filter(|s| !s.is_empty())
            .fold(self.prefix.clone(), |p, s| p.clone().join(s))
    }

    /// Runs `fut` on the store's runtime and waits for it, from any thread (inside async
    /// code too: the wait is a plain channel, not a nested runtime).
    fn block_on<T: Send + 'static>(&self, fut: impl std::future::Future<Output = T> + Send) -> T {
        // The future borrows `self`; it is awaited to completion before this returns.
        let rt = runtime().expect("the object storage runtime was started when the store opened");
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        std::thread::scope(|s| {
            s.spawn(|| {
                let _ = tx.send(rt.block_on(fut));
            });
        });
        rx.recv().expect("the store's call ran to completion")
    }

    /// Uploads `file` to `at`: one PUT when small, a multipart upload otherwise (aborted
    /// on failure, so nothing appears).
    fn upload(&self, file: &Path, at: &ObjPath) -> anyhow::Result<()> {
        let mut f = File::open(file).with_context(|| format!("opening '{}'", file.display()))?;
        let len = f.metadata()?.len();
        if len <= PART_BYTES as u64 {
            let mut buf = Vec::with_capacity(len as usize);
            f.read_to_end(&mut buf)?;
            self.block_on(self.store.put(at, PutPayload::from(buf)))
                .map_err(|e| anyhow!("{}", describe(&e)))?;
            return Ok(());
        }
        self.block_on(async {
            let upload = self.store.put_multipart(at).await?;
            let mut w = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
            let mut buf = vec![0u8; PART_BYTES];
            loop {
                let n = match f.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) => {
                        w.abort().await.ok();
                        return Err(object_store::Error::Generic {
                            store: "local",
                            source: Box::new(e),
                        });
                    }
                };
                if n == 0 {
                    break;
                }
                if let Err(e) = w.wait_for_capacity(UPLOADS_IN_FLIGHT).await {
                    w.abort().await.ok();
                    return Err(e);
                }
                w.write(&buf[..n]);
            }
            w.finish().await.map(drop)
        })
        .map_err(|e| anyhow!("{}", describe(&e)))
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

/// An object storage error in one line, with its causes (the HTTP status and the store's
/// code and message, not its XML), never a credential.
fn describe(e: &object_store::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    match (between(&text, "<Code>", "</Code>"), text.find("<?xml")) {
        (Some(code), Some(at)) => {
            let message = between(&text, "<Message>", "</Message>").unwrap_or_default();
            format!("{}{code}: {message}", &text[..at])
        }
        _ => text,
    }
}

/// The text between the first `open` and the `close` after it.
fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let len = text[start..].find(close)?;
    Some(&text[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_store_lists_publishes_puts_once_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("ds").display().to_string()).unwrap();
        store.check().unwrap();
        assert!(
            store.list("batch_id=a", false).unwrap().is_empty(),
            "missing is empty"
        );

        let rel = "batch_id=a/part-1.parquet";
        let tmp = store.staging_path(rel, dir.path()).unwrap();
        let tmp_name = tmp.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            tmp_name.starts_with('.') && tmp_name.ends_with(".tmp"),
            "{tmp_name}"
        );
        std::fs::write(&tmp, b"PAR1").unwrap();
        store.publish(&tmp, rel).unwrap();
        assert!(!tmp.exists());
        assert_eq!(store.list("batch_id=a", false).unwrap(), ["part-1.parquet"]);
        assert_eq!(store.list("", true).unwrap(), ["batch_id=a"]);
        assert_eq!(store.get(rel).unwrap().as_deref(), Some(&b"PAR1"[..]));

        let marker = "_sail_export/a/complete.json";
        assert!(store.put_if_absent(marker, b"first".to_vec()).unwrap());
        assert!(!store.put_if_absent(marker, b"second".to_vec()).unwrap());
        assert_eq!(store.get(marker).unwrap().as_deref(), Some(&b"first"[..]));
        let leftovers: Vec<String> = store
            .list("_sail_export/a", false)
            .unwrap()
            .into_iter()
            .filter(|n| n != "complete.json")
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

        store.delete(rel).unwrap();
        store.delete(rel).unwrap();
        assert_eq!(store.get(rel).unwrap(), None);
    }

    #[test]
    fn urls_are_told_from_paths_and_a_missing_parent_is_refused() {
        for url in ["s3://b/p/", "S3://b", "gs://b/x", "az://c/p", "abfs://c/p"] {
            assert!(is_url(url), "{url}");
        }
        for path in ["results/", "./s3/", "s3:/x", "s3://", "/tmp/gs://x"] {
            assert!(!is_url(path), "{path}");
        }
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("no/such/ds");
        let err = Store::open(&deep.display().to_string())
            .unwrap()
            .check()
            .unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn an_xml_error_body_is_shown_as_its_code_and_message() {
        let e = object_store::Error::Generic {
            store: "S3",
            source: "GET http://h/b: 404 Not Found: <?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><RequestId>x</RequestId></Error>".into(),
        };
        let text = describe(&e);
        assert!(
            text.contains("NoSuchBucket: The specified bucket does not exist"),
            "{text}"
        );
        assert!(
            !text.contains("<?xml") && !text.contains("RequestId"),
            "{text}"
        );
    }
}
