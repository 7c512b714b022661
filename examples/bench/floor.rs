//! The floor of a case: a bare client in its own process, on the tool's runtime, with the
//! tool's own HTTP client and settings (`api::Client`: pool, headers, timeout, TLS), over the
//! same URLs at the same concurrency, each body read whole and dropped. What the tool costs
//! beyond this is its own work: retry, pace, parsing, rows, the writer.

use futures::StreamExt;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use sail_export::api::{Client, ClientConfig};
use sail_export::sim::DEMO_KEY;
use serde::{Deserialize, Serialize};

/// What the floor process is told to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Spec {
    pub(crate) base_url: String,
    pub(crate) batch_id: String,
    /// A file of the ids the tool requests (those the batch reports finished), one a line.
    pub(crate) ids: std::path::PathBuf,
    pub(crate) concurrency: usize,
    /// The CA to trust over HTTPS, PEM.
    pub(crate) ca_pem: Option<String>,
    pub(crate) http1_only: bool,
}

/// What the floor process saw.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct Report {
    pub(crate) answered: u64,
    pub(crate) bytes: u64,
}

/// Runs the floor in this process, as the binary runs the tool: the same allocator setting
/// and runtime, the client configured as `sail-export fetch -j C` configures it.
pub(crate) fn run(spec: &Spec) -> anyhow::Result<Report> {
    sail_export::memory::return_freed_memory();
    let runtime = sail_export::runtime::build()?;
    runtime.block_on(async {
        let mut cfg = ClientConfig::new(&spec.base_url, DEMO_KEY);
        cfg.pool_size = spec.concurrency;
        cfg.http1_only = spec.http1_only;
        if let Some(pem) = &spec.ca_pem {
            cfg.ca_certs =
                CertificateDer::pem_slice_iter(pem.as_bytes()).collect::<Result<_, _>>()?;
        }
        let client = Client::new(cfg)?;
        let client = &client;
        let batch = spec.batch_id.as_str();
        let ids = std::fs::read_to_string(&spec.ids)?;
        let report = futures::stream::iter(ids.lines())
            .map(|id| async move {
                let url = client.result_url(batch, id)?;
                client.bare_get(&url).await
            })
            .buffer_unordered(spec.concurrency.max(1))
            .fold(Report::default(), |mut r, body| async move {
                if let Some(len) = body {
                    r.answered += 1;
                    r.bytes += len as u64;
                }
                r
            })
            .await;
        anyhow::Ok(report)
    })
}
