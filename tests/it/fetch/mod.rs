//! `fetch` end to end: the whole path once, every column, manifests, response bodies as
//! servers send them, the retry policy and the pace, resuming, counts stored exactly, the
//! key kept secret, HTTPS, proxies, a wrong base URL, an API that vanishes, the simulated
//! API, and property tests of the parsers `fetch` runs.

mod api_gone;
mod base_url;
mod bodies;
mod columns;
mod exact_numbers;
mod manifests;
mod pace;
mod props;
mod props_manifest;
mod proxy;
mod resume;
mod retries;
mod secrets;
mod sim;
mod smoke;
mod tls;
