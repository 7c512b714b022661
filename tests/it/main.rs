//! Integration tests: the real binary against a wiremock server on port 0.

mod harness;

mod cost;
mod cost_cli;
mod cost_sql;
mod fetch_smoke;
