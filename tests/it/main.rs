//! Integration tests: the real binary against a wiremock server on port 0.

mod harness;

mod api_gone;
mod at_scale;
mod base_url;
mod batch_ops;
mod bodies;
mod cli;
#[cfg(unix)]
mod closed_pipe;
mod cost;
mod cost_cli;
mod cost_parquet;
mod cost_report;
mod cost_rows;
mod cost_sql;
mod demo_serve;
mod deploy_examples;
mod exact_numbers;
mod fatal_json;
mod fetch_columns;
mod fetch_pace;
mod fetch_resume;
mod fetch_retries;
mod fetch_smoke;
mod install;
mod layering;
mod manifests;
mod outputs;
mod parquet;
mod parquet_load;
mod prices;
mod props;
mod props_manifest;
mod proxy;
#[cfg(unix)]
mod read_only;
mod secrets;
mod sim;
mod system_sqlite;
mod tls;
