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
use crate::sink::failure::OutputError;
use crate::sink::{Existing, Output};
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
    /// Where the rows go: the output, resolved.
    pub output: Output,
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
    /// extension implies (SQLite when it implies none), [`DEFAULT_CONCURRENCY`] in flight, bodies kept, one pass, a
    /// progress bar when stderr is a terminal.
    pub fn new(batch_id: &str, out: PathBuf) -> Config {
        Config {
            batch_id: batch_id.to_owned(),
            ids: None,
            output: Output::from_path(out),
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
    let (output, batch_id) = (cfg.output.clone(), cfg.batch_id.clone());
    let (shard, existing) = (cfg.shard, cfg.existing);
    let prepare = move || output.prepare(&batch_id, shard, existing);
    let place = match off_runtime(&mut stop, prepare).await {
        Err(why) => return Ok(stopped_before_start(&cfg, why)),
        Ok(place) => place?,
    };
    // Held until the last row is committed; the OS releases it however the process ends.
    let lock = tokio::select! {
        biased;
        why = &mut stop => return Ok(stopped_before_start(&cfg, why)),
        lock = place.lock(cfg.wait_for_lock) => lock
            .map_err(|e| OutputError::wrap(&cfg.output.show(), "locking", e))?,
    };
    place.check()?;
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
    // The lock goes with the opening: a stop that does not wait for it keeps the output
    // locked until the sink is opened and dropped.
    let open = move || (place.open(whole_batch), lock);
    let (sink, _lock) = match off_runtime(&mut stop, open).await {
        Err(why) => return Ok(stopped_before_start(&plan.cfg, why)),
        Ok((sink, lock)) => (sink?, lock),
    };
    pipeline::run(client, sink, plan, before, stop).await
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
        out: cfg.output.show(),
        total,
        not_attempted: total,
        stopped: Some(why),
        ..Summary::default()
    }
}
