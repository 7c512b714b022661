//! The fetch engine: a resolved [`Config`] in, a [`Summary`] out. The output is checked and
//! locked before anything is requested; one status read says which ids there are and which
//! are not finished; the output says which are in already; the rest are requested
//! concurrently and written by one writer in bounded transactions.

mod options;
mod outcome;
mod pipeline;
mod plan;
mod progress;
mod signal;
mod writer;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

pub use self::options::{RunCommand, RunOptions};
pub use self::plan::check_batch_id;
use self::plan::Plan;
pub use self::signal::shutdown_signal;
pub use self::writer::{CHUNK_BYTES, CHUNK_ROWS};
use crate::api::messages::unreachable_error;
use crate::api::{Client, Outcome};
use crate::ids::IdList;
use crate::shard::Shard;
use crate::sink::dataset::store::Store;
use crate::sink::dataset::{DatasetSink, Target};
use crate::sink::failure::OutputError;
use crate::sink::lock::OutputLock;
use crate::sink::{self, Existing, Format};
use crate::summary::{Stop, Summary};

/// Requests in flight at most, unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 64;

/// A fetch, resolved: what the engine needs, every flag already checked. The defaults live
/// in [`Config::new`] and nowhere else.
#[derive(Debug, Clone)]
pub struct Config {
    /// The batch.
    pub batch_id: String,
    /// Unique ids in manifest order; `None` takes the keys of the batch's `request_status`.
    pub ids: Option<IdList>,
    /// The output file.
    pub out: PathBuf,
    /// The output format.
    pub format: Format,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Request ids even when the output already has them fetched.
    pub refetch_all: bool,
    /// Request ids again that the output holds as a final `not_found` (gone past
    /// retention): by default they are not requested again.
    pub retry_not_found: bool,
    /// Keep the body in `raw_json`.
    pub keep_raw: bool,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// No progress of any kind (`-q`): no bar, and no line per status poll with `wait`.
    pub quiet: bool,
    /// What only the caller knows of the options recorded with the run (the command, the
    /// manifest, ...); the rest is filled in from this config and the client when the run
    /// starts ([`RunOptions`]).
    pub options: RunOptions,
    /// `--wait`: poll the batch status this often and fetch unfinished ids as they finish,
    /// until every id is settled. `None`: one pass.
    pub wait: Option<Duration>,
    /// When another process is writing the output: wait for it to end (`true`) or fail at
    /// once with exit 2 (`false`).
    pub wait_for_lock: bool,
    /// Which existing SQLite files the output may be written into.
    pub existing: Existing,
    /// `--shard K/N`: only the ids of this shard.
    pub shard: Option<Shard>,
}

impl Config {
    /// The defaults of `fetch BATCH_ID -o OUT`: ids from the batch status, the format the
    /// extension implies, [`DEFAULT_CONCURRENCY`] in flight, bodies kept, one pass, a
    /// progress bar when stderr is a terminal.
    pub fn new(batch_id: &str, out: PathBuf) -> Config {
        Config {
            batch_id: batch_id.to_owned(),
            ids: None,
            format: Format::from_extension(&out).unwrap_or(Format::Sqlite),
            out,
            concurrency: DEFAULT_CONCURRENCY,
            refetch_all: false,
            retry_not_found: false,
            keep_raw: true,
            progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            quiet: false,
            options: RunOptions::default(),
            wait: None,
            wait_for_lock: false,
            existing: Existing::ExportsOnly,
            shard: None,
        }
    }
}

/// Runs a fetch against `client`. Before any request: the batch id and the output are
/// checked (usage errors, exit 2) and the output is locked for this process (another
/// process writing it is an error, or waited for with `wait_for_lock`). Then one status
/// read (a batch the API does not know ends the run there; ids whose batch status is not
/// terminal get a `pending` row without a request; without a manifest the ids are its
/// keys), then the pipeline, with `wait` polling until every id is settled. Returns the
/// summary once every written row is committed; `stop` ends the run early (the caller's
/// signal handling, e.g. [`shutdown_signal`]).
pub async fn run(
    client: &Client,
    cfg: Config,
    stop: impl Future<Output = Stop>,
) -> anyhow::Result<Summary> {
    tokio::pin!(stop);
    check_batch_id(&cfg.batch_id)?;
    let before = pipeline::Counted::now(client);
    let out = match cfg.format {
        Format::Dataset => {
            let root = cfg.out.to_string_lossy().into_owned();
            let target = Target {
                batch_id: cfg.batch_id.clone(),
                shard: cfg.shard,
                whole_batch: false,
            };
            match off_runtime(&mut stop, move || Output::dataset(root, target)).await {
                Err(why) => return Ok(stopped_before_start(&cfg, why)),
                Ok(out) => out?,
            }
        }
        _ => {
            sink::check_folder(&cfg.out)?;
            Output::File
        }
    };
    // Held until the last row is committed; the OS releases it however the process ends.
    let _lock = tokio::select! {
        biased;
        why = &mut stop => return Ok(stopped_before_start(&cfg, why)),
        lock = out.lock(&cfg) => lock
            .map_err(|e| OutputError::wrap(&cfg.out.display().to_string(), "locking", e))?,
    };
    if let Output::File = out {
        sink::check(&cfg.out, cfg.format, cfg.existing)?;
    }
    let status = tokio::select! {
        biased;
        why = &mut stop => return Ok(stopped_before_start(&cfg, why)),
        fetched = client.batch(&cfg.batch_id) => fetched.outcome,
    };
    if let Some(why) = client.unreachable() {
        return Err(unreachable_error(client.base_url(), why));
    }
    if let Outcome::NotFound { .. } = status {
        return Err(plan::no_batch(client, &cfg.batch_id).await);
    }
    let whole_batch = cfg.ids.is_none();
    let plan = Plan::new(cfg, status, client.base_url())?;
    let sink: Box<dyn sink::Sink> = match out {
        Output::File => sink::open_with(&plan.cfg.out, plan.cfg.format, plan.cfg.existing)
            .map_err(|e| OutputError::wrap(&plan.cfg.out.display().to_string(), "opening", e))?,
        Output::Dataset {
            store,
            mut target,
            scratch,
        } => {
            target.whole_batch = whole_batch;
            let open = move || DatasetSink::open(store, target, scratch);
            match off_runtime(&mut stop, open).await {
                Err(why) => return Ok(stopped_before_start(&plan.cfg, why)),
                Ok(sink) => Box::new(sink?),
            }
        }
    };
    pipeline::run(client, sink, plan, before, stop).await
}

/// Where a run writes: one file, or a batch's partition of a dataset.
enum Output {
    File,
    Dataset {
        store: Store,
        target: Target,
        scratch: PathBuf,
    },
}

impl Output {
    /// Opens the dataset `root` and checks it can be read (a missing folder or bucket, bad
    /// credentials or an endpoint that does not answer end the run here). Blocks.
    fn dataset(root: String, target: Target) -> anyhow::Result<Output> {
        let store = Store::open(&root)?;
        store.check()?;
        let scratch = target.scratch(&store)?;
        Ok(Output::Dataset {
            store,
            target,
            scratch,
        })
    }

    /// Takes the lock of the output (a dataset: of the batch's partition and shard).
    async fn lock(&self, cfg: &Config) -> anyhow::Result<OutputLock> {
        match self {
            Output::File => OutputLock::acquire(&cfg.out, cfg.wait_for_lock).await,
            Output::Dataset {
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
                OutputLock::acquire_as(&target.lock_target(scratch), &what, cfg.wait_for_lock).await
            }
        }
    }
}

/// Runs blocking I/O (files, object storage) from async code: on a multi-threaded
/// runtime the worker hands its other tasks over first; elsewhere it runs in place.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Runs blocking work (object storage calls, reading what an output holds) on a thread of
/// its own while the runtime keeps polling `stop`, so a signal is heard even when a store
/// does not answer. `Err` when `stop` resolves first: the thread is left to end by itself,
/// or with the process (a plain thread, which the runtime's shutdown does not wait for).
pub(crate) async fn off_runtime<T, F>(
    stop: &mut (impl Future<Output = Stop> + Unpin),
    work: F,
) -> Result<T, Stop>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    tokio::select! {
        biased;
        why = stop => Err(why),
        done = rx => Ok(done.expect("blocking work panicked")),
    }
}

/// The summary of a run stopped before its first row: nothing written.
fn stopped_before_start(cfg: &Config, why: Stop) -> Summary {
    let total = cfg.ids.as_ref().map_or(0, |ids| ids.len() as u64);
    Summary {
        batch_id: cfg.batch_id.clone(),
        out: cfg.out.display().to_string(),
        total,
        not_attempted: total,
        stopped: Some(why),
        ..Summary::default()
    }
}
