//! The only part of the crate that talks to the network: Sail's Batch API, and its usage
//! API (`usage`).

mod body;
pub mod client;
mod config;
mod health;
mod lenient;
mod list;
pub(crate) mod messages;
pub mod model;
mod outcome;
mod output;
pub(crate) mod pace;
mod retry;
pub(crate) mod tls;
pub mod usage;

pub use client::{Client, ClientConfig};
pub(crate) use list::list_all;
pub(crate) use outcome::{Fetched, Outcome};
