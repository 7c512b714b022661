//! Integration tests: the real binary against a wiremock server on port 0.

mod harness;

mod manifests;
mod secrets;

mod fetch_columns;
mod fetch_resume;
mod fetch_retries;
mod fetch_smoke;
