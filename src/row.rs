//! `Row`: one exported result, the single column list both sinks use, and the pure
//! flattening of a fetched response into typed columns.

use serde_json::Value;

use crate::api::model::{is_terminal, ResponseObject, Usage};

/// How a column is stored: SQLite affinity and Parquet/Arrow type follow from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 text (SQLite TEXT, Arrow Utf8).
    Text,
    /// 64-bit integer (SQLite INTEGER, Arrow Int64).
    Int,
    /// 64-bit float (SQLite REAL, Arrow Float64).
    Real,
    /// Unix seconds (SQLite INTEGER; Parquet Timestamp(Millisecond, UTC), whole seconds).
    Time,
}

/// One column of the `results` table / Parquet file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Column name, the same in SQLite and Parquet.
    pub name: &'static str,
    /// Storage kind.
    pub kind: Kind,
    /// Whether the column may hold NULL.
    pub nullable: bool,
}

/// A borrowed view of one cell, the common currency between `Row` and the sinks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cell<'a> {
    /// SQL NULL.
    Null,
    /// Text value.
    Text(&'a str),
    /// Integer value (also used for `Kind::Time`).
    Int(i64),
    /// Float value.
    Real(f64),
}

impl<'a> From<&'a String> for Cell<'a> {
    fn from(v: &'a String) -> Self {
        Cell::Text(v)
    }
}
impl<'a> From<&'a Option<String>> for Cell<'a> {
    fn from(v: &'a Option<String>) -> Self {
        v.as_deref().map_or(Cell::Null, Cell::Text)
    }
}
impl From<&Option<i64>> for Cell<'_> {
    fn from(v: &Option<i64>) -> Self {
        v.map_or(Cell::Null, Cell::Int)
    }
}
impl From<&Option<f64>> for Cell<'_> {
    fn from(v: &Option<f64>) -> Self {
        v.map_or(Cell::Null, Cell::Real)
    }
}
impl From<&FetchState> for Cell<'_> {
    fn from(v: &FetchState) -> Self {
        Cell::Text(v.as_str())
    }
}

/// Declares `Row` and `Row::COLUMNS` from one list, so the struct, the SQLite table and the
/// Parquet schema cannot drift apart.
macro_rules! columns {
    ($($name:ident : $ty:ty => $kind:ident, $nullable:expr;)*) => {
        /// One exported result: exactly the columns of `results`, in order.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Row {
            $(
                #[doc = concat!("Column `", stringify!($name), "`.")]
                pub $name: $ty,
            )*
        }

        impl Row {
    /// The bytes of the row's two large columns, `output_text` and `raw_json`: what the
    /// writer's chunks and the Parquet merge's batches are bounded by.
    pub fn text_bytes(&self) -> usize {
        self.output_text.as_ref().map_or(0, String::len)
            + self.raw_json.as_ref().map_or(0, String::len)
    }

            /// The column list: names, kinds and order shared by every sink.
            pub const COLUMNS: &'static [Column] = &[
                $(Column { name: stringify!($name), kind: Kind::$kind, nullable: $nullable },)*
            ];

            /// The row's cells in `COLUMNS` order.
            pub(crate) fn cells(&self) -> [Cell<'_>; Row::COLUMNS.len()] {
                [$(Cell::from(&self.$name),)*]
            }
        }
    };
}

columns! {
    batch_id: String => Text, false;
    custom_id: String => Text, false;
    fetch_state: FetchState => Text, false;
    http_status: Option<i64> => Int, true;
    attempts: Option<i64> => Int, true;
    fetch_error: Option<String> => Text, true;
    fetched_at: Option<i64> => Time, true;
    response_id: Option<String> => Text, true;
    status: Option<String> => Text, true;
    model: Option<String> => Text, true;
    created_at: Option<i64> => Time, true;
    completion_window: Option<String> => Text, true;
    input_tokens: Option<i64> => Int, true;
    input_cached_tokens: Option<i64> => Int, true;
    input_reasoning_tokens: Option<i64> => Int, true;
    output_tokens: Option<i64> => Int, true;
    output_cached_tokens: Option<i64> => Int, true;
    output_reasoning_tokens: Option<i64> => Int, true;
    total_tokens: Option<i64> => Int, true;
    prompt_tokens: Option<i64> => Int, true;
    completion_tokens: Option<i64> => Int, true;
    output_text: Option<String> => Text, true;
    error_code: Option<String> => Text, true;
    error_message: Option<String> => Text, true;
    incomplete_reason: Option<String> => Text, true;
    max_output_tokens: Option<i64> => Int, true;
    temperature: Option<f64> => Real, true;
    top_p: Option<f64> => Real, true;
    metadata_json: Option<String> => Text, true;
    raw_json: Option<String> => Text, true;
    // Added by migration 0004, so it follows the columns of 0001 in SQLite.
    dropped_fields: Option<String> => Text, true;
    // The batch's label as its status read said (migration 0005): the same on every row.
    batch_label: Option<String> => Text, true;
}

/// What the API says of a batch (its `GET /batches/{id}`), recorded with its rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchInfo {
    /// The label given at creation.
    pub label: Option<String>,
    /// Unix seconds.
    pub created_at: Option<i64>,
    /// `request_counts` as sent: Sail's integer, or the JSON text of another shape.
    pub request_counts: Option<String>,
}

/// What became of one custom_id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FetchState {
    /// A response object with a terminal status was stored.
    Fetched,
    /// The item is not finished yet (non-terminal status); a rerun fetches it again.
    Pending,
    /// The API answered 404 for this id.
    NotFound,
    /// Gave up; the reason is in `fetch_error`.
    Error,
}

impl FetchState {
    /// Every state, in report order.
    pub const ALL: [FetchState; 4] = [
        FetchState::Fetched,
        FetchState::Pending,
        FetchState::NotFound,
        FetchState::Error,
    ];

    /// The text stored in `fetch_state`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FetchState::Fetched => "fetched",
            FetchState::Pending => "pending",
            FetchState::NotFound => "not_found",
            FetchState::Error => "error",
        }
    }

    /// Parses the stored text back.
    pub(crate) fn parse(s: &str) -> Option<FetchState> {
        FetchState::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// How `fetch_error` starts on a final `not_found` row whose result is gone for good (a 404
/// for an item its batch reports finished, the batch past Sail's retention): a rerun does not
/// request it again unless told to (`--retry-not-found`).
pub(crate) const GONE: &str = "gone: ";

/// How `fetch_error` starts on the `not_found` row of a manifest id that the batch's status
/// does not list: written without a request.
pub(crate) const NOT_IN_BATCH: &str = "not in this batch";

/// Whether a row in `state` with this `fetch_error` is a final `not_found` (a loss no rerun
/// can make good): gone past retention, or not in the batch.
pub(crate) fn is_lost(state: &str, fetch_error: Option<&str>) -> bool {
    state == FetchState::NotFound.as_str()
        && fetch_error.is_some_and(|e| e.starts_with(GONE) || e.starts_with(NOT_IN_BATCH))
}

/// A response body as kept in `raw_json`. A body that parsed is UTF-8 (checked whole before
/// parsing), so this is one SIMD check and a copy.
pub fn raw_json(body: &[u8]) -> String {
    match simdutf8::basic::from_utf8(body) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

impl Row {
    /// Whether this row is a final `not_found` ([`is_lost`]).
    pub(crate) fn is_lost(&self) -> bool {
        is_lost(self.fetch_state.as_str(), self.fetch_error.as_deref())
    }

    /// A row with only the bookkeeping columns set; the others are NULL.
    pub fn bare(batch_id: &str, custom_id: &str, state: FetchState) -> Row {
        Row {
            batch_id: batch_id.to_owned(),
            custom_id: custom_id.to_owned(),
            fetch_state: state,
            http_status: None,
            attempts: None,
            fetch_error: None,
            fetched_at: None,
            response_id: None,
            status: None,
            model: None,
            created_at: None,
            completion_window: None,
            input_tokens: None,
            input_cached_tokens: None,
            input_reasoning_tokens: None,
            output_tokens: None,
            output_cached_tokens: None,
            output_reasoning_tokens: None,
            total_tokens: None,
            prompt_tokens: None,
            completion_tokens: None,
            output_text: None,
            error_code: None,
            error_message: None,
            incomplete_reason: None,
            max_output_tokens: None,
            temperature: None,
            top_p: None,
            metadata_json: None,
            raw_json: None,
            dropped_fields: None,
            batch_label: None,
        }
    }

    /// Flattens a response object into a row. `raw` is the body exactly as received, kept
    /// in `raw_json` when given. Pure: no I/O, no clock (bookkeeping is the caller's).
    pub fn from_response(
        batch_id: &str,
        custom_id: &str,
        resp: ResponseObject,
        raw: Option<String>,
    ) -> Row {
        let state = match resp.status.as_deref() {
            Some(s) if !is_terminal(s) => FetchState::Pending,
            _ => FetchState::Fetched,
        };
        let mut row = Row::bare(batch_id, custom_id, state);
        let dropped = resp.dropped_fields();
        row.dropped_fields = (!dropped.is_empty()).then(|| dropped.join(","));
        row.response_id = resp.id;
        row.status = resp.status;
        row.model = resp.model;
        row.created_at = resp.created_at.value();
        if let Some(u) = resp.usage.get() {
            row.set_usage(u);
        }
        row.output_text = resp.output_text;
        if let Some(err) = resp.error.filter(|e| !e.is_null()) {
            row.error_code = err.get("code").and_then(scalar_text);
            row.error_message = match err {
                Value::String(s) => Some(s),
                _ => err.get("message").and_then(scalar_text),
            };
        }
        row.incomplete_reason = resp
            .incomplete_details
            .as_ref()
            .and_then(|d| d.get("reason"))
            .and_then(scalar_text);
        row.max_output_tokens = resp.max_output_tokens.value();
        row.temperature = resp.temperature;
        row.top_p = resp.top_p;
        if let Some(meta) = resp.metadata.as_ref().filter(|m| !m.is_null()) {
            row.completion_window = meta.get("completion_window").and_then(scalar_text);
            // The same compact text as `meta.to_string()`, in one allocation.
            row.metadata_json = serde_json::to_string(meta).ok();
        }
        row.raw_json = raw;
        row
    }

    fn set_usage(&mut self, u: &Usage) {
        self.input_tokens = u.input_tokens.value();
        self.output_tokens = u.output_tokens.value();
        self.total_tokens = u.total_tokens.value();
        self.prompt_tokens = u.prompt_tokens.value();
        self.completion_tokens = u.completion_tokens.value();
        if let Some(d) = u.input_tokens_details.get() {
            self.input_cached_tokens = d.cached_tokens.value();
            self.input_reasoning_tokens = d.reasoning_tokens.value();
        }
        if let Some(d) = u.output_tokens_details.get() {
            self.output_cached_tokens = d.cached_tokens.value();
            self.output_reasoning_tokens = d.reasoning_tokens.value();
        }
    }
}

/// A JSON scalar as text: strings as they are, numbers and booleans printed; NULL otherwise.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_state_round_trips_through_text() {
        for s in FetchState::ALL {
            assert_eq!(FetchState::parse(s.as_str()), Some(s));
        }
        assert_eq!(FetchState::parse("done"), None);
    }

    #[test]
    fn cells_follow_the_column_list() {
        let row = Row::bare("b", "c", FetchState::Error);
        let cells = row.cells();
        assert_eq!(cells.len(), Row::COLUMNS.len());
        assert_eq!(Row::COLUMNS[0].name, "batch_id");
        assert_eq!(cells[0], Cell::Text("b"));
        assert_eq!(cells[2], Cell::Text("error"));
        assert!(cells[3..].iter().all(|c| *c == Cell::Null));
    }
}
