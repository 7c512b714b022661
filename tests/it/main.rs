//! Integration tests: the real binary against a wiremock server on port 0.

mod harness;

mod batch_ops;
mod fetch_smoke;
