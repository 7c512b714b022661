//! sail-export: pulls every result of a Sail Research batch, flattens its usage into typed
//! columns, writes SQLite or Parquet, and prices it.
//!
//! Modules in data-flow order, each importing only modules listed before it: the
//! foundations; the ids to fetch; the API; one row per result and the outcome of a run;
//! the price table; where datasets live; where rows go; reading exports back; the engines
//! (cost, reconcile, `--wait`, fetch, sync); the simulated API the demo, the tests and the
//! benchmarks run against; then what the user typed and the subcommands that wire it all.

// Foundations: exit codes and usage errors, what cancels long work, time as people read
// it, the allocator setting, standard output, the async runtime.
pub mod cancel;
pub mod error;
pub mod memory;
pub mod out;
pub mod runtime;
pub mod terminal;
pub mod time;

// The ids to fetch.
pub mod ids;
pub mod manifest;
// Which ids a shard takes.
pub mod shard;

// Sail's API: the only module that talks to it.
pub mod api;

// One row per result, and what a run did.
pub mod row;
pub mod summary;

// The price table every export carries and every report uses.
pub mod prices;

// Where a dataset lives (a folder or object storage), for writing and reading alike.
pub mod store;
// Where rows go (files, datasets on disk or object storage).
pub mod sink;
// Reading exports back.
pub mod export;

// The engines: what an export cost, how it squares with the bill, and `--wait`'s poller...
pub mod cost;
pub mod reconcile;
pub mod wait;
// ...which the fetch pipeline uses; and `sync`, a fetch per batch of the account.
pub mod fetch;
pub mod sync;

// The simulated Sail API the demo, the tests and the benchmarks run against.
pub mod sim;

// What the user typed, and the subcommands that wire it all.
pub mod cli;
pub mod cmd;
