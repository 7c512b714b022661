//! The only part of the crate that talks to the network: Sail's Batch API.

pub mod client;
pub mod model;

pub use client::{Client, ClientConfig, Fetched, Outcome};
