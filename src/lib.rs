//! sail-export: pulls every result of a Sail Research batch, flattens its usage into typed
//! columns, writes SQLite or Parquet, and prices it.
//!
//! Modules in data-flow order: what the user typed → the ids to fetch → the API → one row per
//! result → the pipeline → where rows go → reading exports back → what they cost → what the
//! run did; then the simulated API, the subcommands that wire it all, and the exit codes.

pub mod api;
pub mod cli;
pub mod cmd;
pub mod cost;
pub mod db;
pub mod error;
pub mod fetch;
pub mod load;
pub mod manifest;
pub mod row;
pub mod sim;
pub mod sink;
pub mod summary;
pub mod wait;
