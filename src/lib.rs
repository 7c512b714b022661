//! sail-export: pulls every result of a Sail Research batch, flattens its usage into typed
//! columns, writes SQLite or Parquet, and prices it.
//!
//! Modules in data-flow order: what the user typed → the ids to fetch → the API → one row per
//! result → the pipeline → where rows go → reading exports back → what they cost → what the
//! run did; then the simulated API, the subcommands that wire it all, and the exit codes.

// What the user typed, and the ids to fetch.
pub mod cli;
pub mod ids;
pub mod manifest;

// The API, and one row per result.
pub mod api;
pub mod row;

// The pipeline, and `--wait`.
pub mod fetch;
pub mod wait;

// Where rows go.
pub mod sink;

// Reading exports back into SQLite.
pub mod db;
pub mod load;

// What they cost, and what the run did.
pub mod cost;
pub mod summary;

// The simulated API, the subcommands that wire it all, the exit codes and the allocator
// setting of the binary.
pub mod sim;

pub mod cmd;

pub mod error;

pub mod memory;
