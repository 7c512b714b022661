//! The object storage side of `store`: the client for one bucket prefix, its calls run to
//! completion on a runtime of its own, uploads that appear whole, and errors in one line.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use futures::TryStreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use crate::cancel::{Cancel, Cancelled};

/// Files up to this size are uploaded in one PUT; larger ones in parts of this size (S3's
/// smallest part is 5 MiB).
const PART_BYTES: usize = 8 << 20;
/// Parts of one multipart upload in flight at once: with the part being gathered, an upload
/// holds about three parts (24 MiB) whatever the file's size.
const UPLOADS_IN_FLIGHT: usize = 2;

/// A bucket prefix and the client for it.
pub(crate) struct Remote {
    pub(super) url: String,
    pub(super) store: Arc<dyn ObjectStore>,
    pub(super) prefix: ObjPath,
}

/// The runtime object storage calls run on: one worker, made on first use and kept for
/// the life of the process (a runtime may not be dropped inside async code).
pub(super) fn runtime() -> anyhow::Result<&'static tokio::runtime::Runtime> {
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

impl Remote {
    pub(super) fn path(&self, rel: &str) -> ObjPath {
        rel.split('/')
            .filter(|s| !s.is_empty())
            .fold(self.prefix.clone(), |p, s| p.clone().join(s))
    }

    /// Runs `fut` on the store's runtime and waits for it, from any thread (inside async
    /// code too: the wait is a plain channel, not a nested runtime).
    pub(super) fn block_on<T: Send + 'static>(
        &self,
        fut: impl std::future::Future<Output = T> + Send,
    ) -> T {
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

    /// The first `columns` columns of the Parquet object `rel`, read with range requests
    /// (its footer, then only those columns' pages), with the file's own Arrow schema.
    pub(crate) fn read_columns(
        &self,
        rel: &str,
        columns: usize,
    ) -> anyhow::Result<(SchemaRef, Vec<RecordBatch>)> {
        let at = self.path(rel);
        let store = Arc::clone(&self.store);
        self.block_on(async move {
            let size = store
                .head(&at)
                .await
                .map_err(|e| ParquetError::External(e.into()))?
                .size;
            let reader = ObjectFile { store, at, size };
            let builder = ParquetRecordBatchStreamBuilder::new(reader).await?;
            let schema = Arc::clone(builder.schema());
            let mask = ProjectionMask::roots(builder.parquet_schema(), 0..columns);
            let stream = builder
                .with_projection(mask)
                .with_batch_size(8192)
                .build()?;
            let batches: Vec<RecordBatch> = stream.try_collect().await?;
            Ok::<_, parquet::errors::ParquetError>((schema, batches))
        })
        .map_err(|e| anyhow!("cannot read '{}/{rel}': {e}", self.url))
    }

    /// Streams the Parquet object `rel` by range requests, one row group's worth of the
    /// chosen columns at a time: `choose` picks root columns from the file's Arrow schema,
    /// `each` gets every batch. Nothing is downloaded whole and nothing is written.
    pub(super) fn stream_columns(
        &self,
        rel: &str,
        choose: &(dyn Fn(&arrow_schema::Schema) -> anyhow::Result<Vec<usize>> + Sync),
        each: &mut (dyn FnMut(RecordBatch) -> anyhow::Result<()> + Send),
    ) -> anyhow::Result<()> {
        let at = self.path(rel);
        let store = Arc::clone(&self.store);
        let shown = format!("{}/{rel}", self.url);
        self.block_on(async move {
            let cannot = |e: &dyn std::fmt::Display| anyhow!("cannot read '{shown}': {e}");
            let size = store
                .head(&at)
                .await
                .map_err(|e| cannot(&describe(&e)))?
                .size;
            let reader = ObjectFile { store, at, size };
            let builder = ParquetRecordBatchStreamBuilder::new(reader)
                .await
                .map_err(|e| cannot(&e))?;
            let roots = choose(builder.schema())?;
            let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
            let mut stream = builder
                .with_projection(mask)
                .with_batch_size(crate::store::read::STREAM_BATCH_ROWS)
                .build()
                .map_err(|e| cannot(&e))?;
            while let Some(batch) = stream.try_next().await.map_err(|e| cannot(&e))? {
                each(batch)?;
            }
            Ok(())
        })
    }

    /// Uploads `file` to `at`: one PUT when small, a multipart upload otherwise (aborted
    /// on failure, so nothing appears). Once `cancel` is set the upload stops within a
    /// piece of 1 MiB or a wait for a part in flight, and fails with `Cancelled`: a single
    /// PUT is dropped unfinished, a multipart upload aborted (its last part, sent by
    /// `finish`, is not interrupted).
    pub(super) fn upload(&self, file: &Path, at: &ObjPath, cancel: &Cancel) -> anyhow::Result<()> {
        cancel.check()?;
        let mut f = File::open(file).with_context(|| format!("opening '{}'", file.display()))?;
        let len = f.metadata()?.len();
        if len <= PART_BYTES as u64 {
            let mut buf = Vec::with_capacity(len as usize);
            f.read_to_end(&mut buf)?;
            let put = self.block_on(async {
                tokio::select! {
                    put = self.store.put(at, PutPayload::from(buf)) => Some(put),
                    _ = cancel.cancelled() => None,
                }
            });
            return match put {
                Some(put) => put.map(drop).map_err(|e| anyhow!("{}", describe(&e))),
                None => Err(Cancelled.into()),
            };
        }
        let done = self.block_on(async {
            let upload = self.store.put_multipart(at).await?;
            let mut w = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
            // Read in small pieces: `WriteMultipart` gathers them into parts itself.
            let mut buf = vec![0u8; 1 << 20];
            loop {
                if cancel.is_cancelled() {
                    w.abort().await.ok();
                    return Ok(false);
                }
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
                // At the end, every part but the last is waited for here.
                let room = if n == 0 { 0 } else { UPLOADS_IN_FLIGHT };
                let waited = tokio::select! {
                    waited = w.wait_for_capacity(room) => Some(waited),
                    _ = cancel.cancelled() => None,
                };
                match waited {
                    Some(Ok(())) => {}
                    Some(Err(e)) => {
                        w.abort().await.ok();
                        return Err(e);
                    }
                    None => {
                        w.abort().await.ok();
                        return Ok(false);
                    }
                }
                if n == 0 {
                    break;
                }
                w.write(&buf[..n]);
            }
            w.finish().await.map(|_| true)
        });
        match done {
            Ok(true) => Ok(()),
            Ok(false) => Err(Cancelled.into()),
            Err(e) => Err(anyhow!("{}", describe(&e))),
        }
    }
}

/// A Parquet object read by ranges: the footer first, then the pages a projection needs.
struct ObjectFile {
    store: Arc<dyn ObjectStore>,
    at: ObjPath,
    size: u64,
}

impl AsyncFileReader for ObjectFile {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.at, range)
                .await
                .map_err(|e| ParquetError::External(e.into()))
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            // One request for the footer of most files (it holds the metadata).
            let reader = ParquetMetaDataReader::new().with_prefetch_hint(Some(256 << 10));
            Ok(Arc::new(reader.load_and_finish(self, size).await?))
        }
        .boxed()
    }
}

/// An object storage error in one line, with its causes (the HTTP status and the store's
/// code and message, not its XML), never a credential.
pub(super) fn describe(e: &object_store::Error) -> String {
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
