//! The work a case cannot do without, measured beside its floor: parsing every body the
//! simulator served with the tool's own parser, and storing every row through the case's
//! sink with the pipeline's chunks, on one thread, in thread CPU time. The floor plus these
//! two is a lower bound on what the tool can cost with this stack (serde_json, rusqlite,
//! arrow/parquet); what the tool costs beyond that bound is the pipeline's own.

use std::path::Path;

use anyhow::Context;
use sail_export::api::model::ResponseObject;
use sail_export::fetch::{CHUNK_BYTES, CHUNK_ROWS};
use sail_export::row::{raw_json, Row};
use sail_export::sim::Dataset;
use sail_export::sink::{self, Format, RunStart};
use sail_export::summary::Summary;

use crate::client::{usage, Who};

/// Bodies made (untimed) before each timed parse.
const BODIES_AT_ONCE: u64 = 256;

/// CPU seconds of the two parts, and the rows they made.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Work {
    pub(crate) parse_s: f64,
    pub(crate) store_s: f64,
    pub(crate) rows: u64,
}

/// This thread's CPU seconds so far (user + system: the sink's writes count).
fn thread_cpu() -> anyhow::Result<f64> {
    Ok(usage(Who::Thread)?.cpu_s)
}

/// Parses the 200 bodies of items `0..n` of the main batch into rows, as `fetch` does
/// (`raw` keeps raw_json), and writes them to a fresh `sink` output in `dir`, handed over
/// in chunks by the pipeline's rule ([`CHUNK_ROWS`] rows or [`CHUNK_BYTES`] of text).
pub(crate) fn measure(
    data: &Dataset,
    n: u64,
    sink: &str,
    raw: bool,
    dir: &Path,
) -> anyhow::Result<Work> {
    let format = if sink == "sqlite" {
        Format::Sqlite
    } else {
        Format::Parquet
    };
    let batch = data.batch_id(0).to_owned();
    let mut out = sink::open(&dir.join(format!("work.{sink}")), format)?;
    out.fetched_ids(&batch)?;
    out.begin_run(&RunStart {
        batch_id: batch.clone(),
        started_at: 0,
        options_json: "{}".into(),
    })?;
    let mut work = Work::default();
    let (mut chunk, mut bytes) = (Vec::with_capacity(CHUNK_ROWS), 0usize);
    let mut start = 0;
    while start < n {
        let end = (start + BODIES_AT_ONCE).min(n);
        let bodies: Vec<(String, Vec<u8>)> = (start..end)
            .filter_map(|i| Some((Dataset::custom_id(i), data.result_body(0, i)?)))
            .collect();
        start = end;
        let t = thread_cpu()?;
        let mut rows = Vec::with_capacity(bodies.len());
        for (id, body) in &bodies {
            let value = ResponseObject::parse(body).with_context(|| format!("{id}'s body"))?;
            let mut row = Row::from_response(&batch, id, value, raw.then(|| raw_json(body)));
            row.http_status = Some(200);
            row.attempts = Some(1);
            row.fetched_at = Some(0);
            rows.push(row);
        }
        work.parse_s += thread_cpu()? - t;
        for row in rows {
            bytes += row.text_bytes();
            chunk.push(row);
            if chunk.len() >= CHUNK_ROWS || bytes >= CHUNK_BYTES {
                work.rows += chunk.len() as u64;
                let t = thread_cpu()?;
                out.write(&chunk)?;
                chunk.clear();
                work.store_s += thread_cpu()? - t;
                bytes = 0;
            }
        }
    }
    work.rows += chunk.len() as u64;
    let t = thread_cpu()?;
    out.write(&chunk)?;
    out.finish(&Summary::default())?;
    work.store_s += thread_cpu()? - t;
    Ok(work)
}
