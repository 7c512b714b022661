//! One request's outcome as a row: a response flattened, or a `not_found` / `error` row
//! that says why, with the bookkeeping columns (HTTP status, attempts, time) set.

use crate::api::model::ResponseObject;
use crate::api::{Fetched, Outcome};
use crate::row::{raw_json, FetchState, Row, GONE};
use crate::time::now_unix;

/// One fetch outcome as a row; `None` when no request was made (the run was stopping).
/// With `gone` (why a 404 is final in this batch, see `Plan::gone`) a 404 is a final
/// `not_found`: its `fetch_error` starts with [`GONE`] and gives the reason.
pub(super) fn to_row(
    batch_id: &str,
    custom_id: &str,
    f: Fetched<ResponseObject>,
    keep_raw: bool,
    gone: Option<&str>,
) -> Option<Row> {
    let failed = |state, why: String| {
        let mut r = Row::bare(batch_id, custom_id, state);
        r.fetch_error = Some(why);
        r
    };
    let mut row = match f.outcome {
        Outcome::Ok { value, body } => {
            let raw = keep_raw.then(|| raw_json(&body));
            Row::from_response(batch_id, custom_id, value, raw)
        }
        Outcome::NotFound { message } => {
            let said = message.unwrap_or_else(|| "not found (HTTP 404)".to_owned());
            let why = match gone {
                Some(why) => format!("{GONE}{why}: {said}"),
                None => said,
            };
            failed(FetchState::NotFound, why)
        }
        Outcome::AuthRejected => failed(
            FetchState::Error,
            "the API key was rejected; check SAIL_API_KEY".to_owned(),
        ),
        Outcome::Failed { reason } => failed(FetchState::Error, reason),
        Outcome::Skipped => return None,
    };
    row.http_status = f.http_status.map(i64::from);
    row.attempts = Some(i64::from(f.attempts));
    row.fetched_at = Some(now_unix());
    Some(row)
}
