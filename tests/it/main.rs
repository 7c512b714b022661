//! Integration tests: the real binary against a wiremock server on port 0 (or the project's
//! simulator), one folder per feature.

mod harness;

mod at_scale;
mod batch_ops;
mod cli;
mod cost;
mod fetch;
mod layering;
mod outputs;
mod prices;
mod reconcile;
