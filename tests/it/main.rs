//! Integration tests: the real binary against a wiremock server on port 0.

mod harness;

mod batch_ops;
mod cost;
mod cost_cli;
mod cost_parquet;
mod cost_sql;
mod fetch_columns;
mod fetch_pace;
mod fetch_resume;
mod fetch_retries;
mod fetch_smoke;
mod layering;
mod manifests;
mod parquet;
mod parquet_load;
mod secrets;
mod sim;
mod system_sqlite;
