//! One pass over `results`: every row is folded into a bucket of rows that share model, raw
//! window, UTC day and the optional keys (batch_id, status, metadata values) — few enough
//! to price exactly.
//! Strings are interned as bytes, so the pass allocates per distinct value, not per row.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::metadata;
use super::report::{Anomalies, Key, Totals};
use crate::time::{day, Span};

/// What a scan keeps apart besides the pricing keys (model, window, day).
#[derive(Debug, Clone, Default)]
pub struct Dims {
    /// Rows of different batches (`--by batch_id` or `--by label`).
    pub by_batch: bool,
    /// The batches' labels are read (`--by label`).
    pub labels: bool,
    /// Rows of different response statuses.
    pub by_status: bool,
    /// The metadata paths (`--by metadata.KEY`), in `--by` order.
    pub meta: Vec<String>,
}

impl Dims {
    /// What the keys of a report need.
    pub fn of(keys: &[Key]) -> Dims {
        Dims {
            by_batch: keys.contains(&Key::BatchId) || keys.contains(&Key::Label),
            labels: keys.contains(&Key::Label),
            by_status: keys.contains(&Key::Status),
            meta: keys
                .iter()
                .filter_map(|k| k.metadata_path().map(str::to_owned))
                .collect(),
        }
    }
}

/// Fetched rows sharing the pricing and grouping keys; `totals` lacks the priced figures.
#[derive(Debug, Default)]
pub struct Bucket {
    /// The model.
    pub model: Option<String>,
    /// The window as stored (not normalised).
    pub window: Option<String>,
    /// UTC day of created_at.
    pub day: Option<i64>,
    /// The batch, when grouping by it.
    pub batch_id: Option<String>,
    /// The response status, when grouping by it.
    pub status: Option<String>,
    /// The values of the metadata keys grouped by, in `--by` order.
    pub meta: Vec<Option<String>>,
    /// Billed tokens of the rows with usage: uncached input, cached input (capped to
    /// [0, input]), output.
    pub billed: [i64; 3],
    /// Rows with both input_tokens and output_tokens.
    pub usage_rows: u64,
    /// Counts and token sums.
    pub totals: Totals,
}

/// Every bucket, and how many rows were not `fetched`.
pub struct Scan {
    /// Buckets of fetched rows.
    pub buckets: Vec<Bucket>,
    /// Rows in another fetch_state (not counted).
    pub not_fetched: u64,
    /// batch_id → label, for the batches that have one (read with `--by label`).
    pub labels: HashMap<String, String>,
}

#[derive(Default)]
struct Interner {
    ids: HashMap<Box<[u8]>, u32>,
    names: Vec<String>,
}

impl Interner {
    /// 0 is NULL; other values get 1, 2, ... in order of appearance.
    fn id(&mut self, bytes: Option<&[u8]>) -> u32 {
        let Some(bytes) = bytes else { return 0 };
        if let Some(id) = self.ids.get(bytes) {
            return *id;
        }
        self.names.push(String::from_utf8_lossy(bytes).into_owned());
        let id = self.names.len() as u32;
        self.ids.insert(bytes.into(), id);
        id
    }

    fn name(&self, id: u32) -> Option<String> {
        (id > 0).then(|| self.names[id as usize - 1].clone())
    }
}

/// Interned model, window, UTC day, batch_id (0 unless grouped by it), status (likewise),
/// metadata values (0 unless grouped by some).
pub(crate) type BucketKey = (u32, u32, Option<i64>, u32, u32, u32);

/// Rows folded into buckets, whatever they are read from (the SQLite table, Parquet
/// columns): each reader turns its values into interned ids and tokens, and the fold does
/// the rest.
#[derive(Default)]
pub(crate) struct Fold {
    strings: Interner,
    /// The metadata values of a row, as interned strings, → their id (from 1).
    tuples: HashMap<Vec<u32>, u32>,
    buckets: HashMap<BucketKey, Bucket>,
    not_fetched: u64,
    /// batch_id → label.
    pub(crate) labels: HashMap<String, String>,
}

impl Fold {
    /// The id of a text value (0 for NULL).
    pub(crate) fn id(&mut self, text: Option<&[u8]>) -> u32 {
        self.strings.id(text)
    }

    /// The id of a SQLite value (numbers as their text, as SQLite would compare them).
    fn value_id(&mut self, v: ValueRef<'_>) -> u32 {
        match v {
            ValueRef::Null => 0,
            ValueRef::Text(b) | ValueRef::Blob(b) => self.id(Some(b)),
            ValueRef::Integer(i) => self.id(Some(i.to_string().as_bytes())),
            ValueRef::Real(f) => self.id(Some(f.to_string().as_bytes())),
        }
    }

    /// The id of a row's metadata values (`paths` read from its `metadata_json`); 0 when
    /// no path is asked for.
    pub(crate) fn meta_id(&mut self, json: Option<&[u8]>, paths: &[String]) -> u32 {
        if paths.is_empty() {
            return 0;
        }
        let ids: Vec<u32> = metadata::values(json, paths)
            .iter()
            .map(|v| self.strings.id(v.as_deref().map(str::as_bytes)))
            .collect();
        let next = self.tuples.len() as u32 + 1;
        *self.tuples.entry(ids).or_insert(next)
    }

    /// Counts a row that is not `fetched`.
    pub(crate) fn skip(&mut self) {
        self.not_fetched += 1;
    }

    /// Folds a fetched row; `t` and `dropped` as in [`add_row`].
    pub(crate) fn add(&mut self, key: BucketKey, t: [Option<i64>; 7], dropped: bool) {
        add_row(self.buckets.entry(key).or_default(), t, dropped);
    }

    /// The buckets, named.
    pub(crate) fn finish(self) -> Scan {
        let strings = self.strings;
        let mut tuples: Vec<&[u32]> = vec![&[]; self.tuples.len() + 1];
        for (ids, at) in &self.tuples {
            tuples[*at as usize] = ids;
        }
        let buckets = self
            .buckets
            .into_iter()
            .map(|((m, w, d, b, s, t), mut bucket)| {
                (bucket.model, bucket.window, bucket.day) = (strings.name(m), strings.name(w), d);
                (bucket.batch_id, bucket.status) = (strings.name(b), strings.name(s));
                bucket.meta = tuples[t as usize]
                    .iter()
                    .map(|i| strings.name(*i))
                    .collect();
                bucket
            })
            .collect();
        Scan {
            buckets,
            not_fetched: self.not_fetched,
            labels: self.labels,
        }
    }
}

fn int(v: ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Integer(i) => Some(i),
        ValueRef::Real(f) => Some(f as i64),
        _ => None,
    }
}

/// The scan's SQL; both forms are served by the covering index `results_cost` (migrations
/// 0002 and 0004), so a report reads about 100 bytes a row, not the response bodies. An
/// export written before migration 0004 (opened read-only, so not migrated) has no
/// `dropped_fields` column: `with_dropped` false reads NULL in its place.
/// `with_meta` reads `metadata_json` too, which the index does not hold: the table is read.
fn query_sql(by_batch: bool, with_dropped: bool, with_meta: bool) -> String {
    let filter = if by_batch {
        "WHERE batch_id = ?1"
    } else {
        "WHERE ?1 IS NULL"
    };
    format!(
        "SELECT fetch_state, model, completion_window, created_at, batch_id, status, \
         input_tokens, input_cached_tokens, output_tokens, output_reasoning_tokens, \
         total_tokens, prompt_tokens, completion_tokens, {dropped}, {meta} FROM results {filter}",
        dropped = if with_dropped {
            "dropped_fields"
        } else {
            "NULL"
        },
        meta = if with_meta { "metadata_json" } else { "NULL" },
    )
}

/// Whether `results` has the `dropped_fields` column (migration 0004).
fn has_dropped_fields(conn: &Connection) -> anyhow::Result<bool> {
    has_column(conn, "results", "dropped_fields")
}

/// Whether `table` exists and has `column`.
fn has_column(conn: &Connection, table: &str, column: &str) -> anyhow::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
        [table, column],
        |r| r.get(0),
    )
    .with_context(|| format!("reading the columns of the {table} table"))
}

/// batch_id → label, from the `batches` table (migration 0005; `fetch` and `load` fill
/// it); an export from before the migration has none.
fn labels(conn: &Connection) -> anyhow::Result<HashMap<String, String>> {
    let mut labels = HashMap::new();
    if has_column(conn, "batches", "label")? {
        let mut stmt =
            conn.prepare("SELECT batch_id, label FROM batches WHERE label IS NOT NULL")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next().context("reading the batches table")? {
            labels.insert(r.get(0)?, r.get(1)?);
        }
    }
    Ok(labels)
}

/// Scans `results` (only `batch` when given, only fetched rows created in `span`), keeping
/// apart what `dims` asks.
pub fn scan(
    conn: &Connection,
    batch: Option<&str>,
    span: Span,
    dims: &Dims,
) -> anyhow::Result<Scan> {
    let with_meta = !dims.meta.is_empty();
    let sql = query_sql(batch.is_some(), has_dropped_fields(conn)?, with_meta);
    let mut stmt = conn.prepare(&sql).context("preparing the cost query")?;
    let mut fold = Fold::default();
    let mut rows = stmt.query([batch])?;
    while let Some(r) = rows.next().context("reading the results table")? {
        if r.get_ref(0)?.as_bytes().ok() != Some(b"fetched") {
            fold.skip();
            continue;
        }
        let created_at = int(r.get_ref(3)?);
        if !span.contains(created_at) {
            continue;
        }
        let key = (
            fold.value_id(r.get_ref(1)?),
            fold.value_id(r.get_ref(2)?),
            created_at.map(day::of_unix),
            if dims.by_batch {
                fold.value_id(r.get_ref(4)?)
            } else {
                0
            },
            if dims.by_status {
                fold.value_id(r.get_ref(5)?)
            } else {
                0
            },
            fold.meta_id(r.get_ref(14)?.as_bytes_or_null()?, &dims.meta),
        );
        let t: [Option<i64>; 7] = std::array::from_fn(|i| r.get_ref(6 + i).ok().and_then(int));
        let dropped = !matches!(r.get_ref(13)?, ValueRef::Null);
        fold.add(key, t, dropped);
    }
    let mut scanned = fold.finish();
    if dims.labels {
        scanned.labels = labels(conn)?;
    }
    Ok(scanned)
}

/// Scans the export at `path`, whatever it is: a SQLite export (only `batch`'s rows, checked
/// to exist), or Parquet files, folders and datasets read in place (only the columns the
/// report needs, no copy); only fetched rows created in `span`, kept apart as `dims` asks.
pub fn export(path: &Path, batch: Option<&str>, span: Span, dims: &Dims) -> anyhow::Result<Scan> {
    match crate::export::detect(path)? {
        crate::export::Export::Parquet(inputs) => {
            super::scan_parquet::scan(&inputs, path, batch, span, dims)
        }
        crate::export::Export::Sqlite(_) => {
            let conn = crate::export::open(path)?;
            if let Some(batch) = batch {
                crate::export::check_batch(&conn, batch, path)?;
            }
            scan(&conn, batch, span, dims)
        }
    }
}

/// Folds one fetched row into its bucket. `t`: input, cached, output, reasoning, total,
/// prompt, completion; `dropped`: the row names dropped fields. NULLs follow SQL: a flag
/// with a NULL operand is not raised.
fn add_row(b: &mut Bucket, t: [Option<i64>; 7], dropped: bool) {
    let [input, cached, output, reasoning, total, prompt, completion] = t;
    let s = &mut b.totals;
    s.requests += 1;
    s.input_tokens += input.unwrap_or(0);
    s.input_cached_tokens += cached.unwrap_or(0);
    s.output_tokens += output.unwrap_or(0);
    s.output_reasoning_tokens += reasoning.unwrap_or(0);
    if let (Some(i), Some(o)) = (input, output) {
        let bc = cached.unwrap_or(0).min(i).max(0);
        b.billed[0] += i - bc;
        b.billed[1] += bc;
        b.billed[2] += o;
        b.usage_rows += 1;
    }
    let gt = |a: Option<i64>, b: Option<i64>| matches!((a, b), (Some(a), Some(b)) if a > b);
    let ne = |a: Option<i64>, b: Option<i64>| matches!((a, b), (Some(a), Some(b)) if a != b);
    let a: &mut Anomalies = &mut s.anomalies;
    a.cached_gt_input += u64::from(gt(cached, input));
    a.reasoning_gt_output += u64::from(gt(reasoning, output));
    a.total_ne_sum += u64::from(ne(total, input.zip(output).map(|(i, o)| i + o)));
    a.alias_mismatch += u64::from(ne(prompt, input) || ne(completion, output));
    a.dropped_fields += u64::from(dropped);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scan_reads_the_covering_index_not_the_table() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::sink::sqlite::schema::migrate(&mut conn).unwrap();
        assert!(has_dropped_fields(&conn).unwrap());
        for by_batch in [false, true] {
            let plan: Vec<String> = conn
                .prepare(&format!(
                    "EXPLAIN QUERY PLAN {}",
                    query_sql(by_batch, true, false)
                ))
                .unwrap()
                .query_map([Option::<String>::None], |r| r.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(plan.len(), 1, "{plan:?}");
            assert!(plan[0].contains("COVERING INDEX results_cost"), "{plan:?}");
        }
    }

    #[test]
    fn an_export_from_before_dropped_fields_is_scanned_with_none_dropped() {
        use crate::sink::sqlite::schema::MIGRATIONS;
        let conn = Connection::open_in_memory().unwrap();
        for (_, sql) in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO results (batch_id, custom_id, fetch_state, input_tokens, output_tokens)
             VALUES ('b', 'c', 'fetched', 5, 6)",
        )
        .unwrap();
        assert!(!has_dropped_fields(&conn).unwrap());
        let s = scan(&conn, None, Span::default(), &Dims::default()).unwrap();
        assert_eq!(s.buckets.len(), 1);
        assert_eq!(s.buckets[0].totals.input_tokens, 5);
        assert_eq!(s.buckets[0].totals.anomalies.dropped_fields, 0);
    }
}
