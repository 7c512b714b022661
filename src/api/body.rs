//! A response body as the client takes it: read chunk by chunk up to `--max-body-size`
//! (checked against `Content-Length` before reading), a UTF-8 byte order mark dropped, and
//! a body that is not the expected JSON told in a few words with its first bytes.

use bytes::Bytes;
use serde::de::IgnoredAny;
use tokio::sync::Semaphore;

use super::model;

/// The default `--max-body-size`: 64 MiB. The largest answer a model can give is a response
/// object echoing a prompt that fills a 1,048,576-token context, plus its output: at 4 to 16
/// bytes of JSON per token (escaped text, `\uXXXX` for non-ASCII), 4 to 16 MiB; 64 MiB
/// leaves room for images given as base64 in the input.
pub const DEFAULT_MAX_BODY_SIZE: u64 = 64 << 20;

/// Past this many bytes (a hundred times a usual result), a body is read only while it holds
/// the client's one permit for large bodies: however many large bodies arrive at once, one
/// grows towards the cap while the others wait at this size (the server's sends wait
/// meanwhile), which bounds their memory by about `concurrency × 1 MiB + the cap`.
const SHARED_ABOVE: usize = 1 << 20;

/// The UTF-8 byte order mark, which some servers put before JSON.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Why a body was not taken.
pub(super) enum Unread {
    /// Larger than the cap: not read further, not retried.
    TooLarge(String),
    /// The transfer failed partway.
    Cut(reqwest::Error),
}

/// Reads `resp`'s body whole, or stops as soon as it is known to be over `cap` bytes
/// (decoded size, so a small compressed body cannot expand past it). `large` is the
/// client's permit for bodies past [`SHARED_ABOVE`]. A leading BOM is dropped.
pub(super) async fn read(
    mut resp: reqwest::Response,
    cap: u64,
    large: &Semaphore,
) -> Result<Bytes, Unread> {
    let over = |what: String| {
        Unread::TooLarge(format!(
            "the body is {what}, over --max-body-size ({}); not read further",
            size_text(cap)
        ))
    };
    let declared = resp.content_length();
    if let Some(n) = declared.filter(|n| *n > cap) {
        return Err(over(format!("{n} bytes (Content-Length)")));
    }
    let mut first: Option<Bytes> = None;
    let mut buf = Vec::new();
    let mut permit = None;
    while let Some(chunk) = resp.chunk().await.map_err(Unread::Cut)? {
        let len = first.as_ref().map_or(buf.len(), Bytes::len) + chunk.len();
        if len as u64 > cap {
            return Err(over(format!("more than {len} bytes")));
        }
        if len > SHARED_ABOVE && permit.is_none() {
            permit = large.acquire().await.ok();
        }
        match first.take() {
            // One chunk is the usual whole body: kept as it came, without a copy.
            None if buf.is_empty() => first = Some(chunk),
            held => {
                if buf.is_empty() {
                    let want = declared.unwrap_or(0).min(cap) as usize;
                    buf.reserve(want.max(len));
                }
                if let Some(head) = held {
                    buf.extend_from_slice(&head);
                }
                buf.extend_from_slice(&chunk);
            }
        }
    }
    let body = first.unwrap_or_else(|| Bytes::from(buf));
    Ok(match body.starts_with(BOM) {
        true => body.slice(BOM.len()..),
        false => body,
    })
}

/// Why a 2xx body that is not `what` (e.g. "a response object") cannot be used, in a few
/// words, with its first bytes escaped: empty, an HTML page, gzip data the server did not
/// label, not JSON, or JSON of the wrong shape.
pub(super) fn unusable(status: u16, body: &[u8], what: &str) -> String {
    let text = body.trim_ascii_start();
    let why = if text.is_empty() {
        return match body.is_empty() {
            true => format!("HTTP {status} but the body is empty"),
            false => format!("HTTP {status} but the body is only whitespace"),
        };
    } else if body.starts_with(b"\x1f\x8b") {
        "gzip data without Content-Encoding: gzip".to_owned()
    } else if is_html(text) {
        "an HTML page, not JSON".to_owned()
    } else if let Err(e) = serde_json::from_slice::<IgnoredAny>(body) {
        format!("not JSON ({e})")
    } else {
        match model::error_message(body) {
            Some(m) => format!("JSON but not {what} (message: {m})"),
            None => format!("JSON but not {what}"),
        }
    };
    format!(
        "HTTP {status} but the body ({} bytes) is {why}; it starts \"{}\"",
        body.len(),
        head(body)
    )
}

/// The first bytes of a body, escaped so any byte prints as text.
fn head(body: &[u8]) -> String {
    const SHOWN: usize = 60;
    let cut = &body[..body.len().min(SHOWN)];
    let more = if body.len() > SHOWN { "…" } else { "" };
    format!("{}{more}", cut.escape_ascii())
}

/// Whether text starts like an HTML document (a login page, a proxy's error page).
fn is_html(text: &[u8]) -> bool {
    let start = &text[..text.len().min(15)];
    let lower = start.to_ascii_lowercase();
    ["<!doctype html", "<html", "<head", "<body", "<!--"]
        .iter()
        .any(|tag| lower.starts_with(tag.as_bytes()))
}

/// A byte count as people read it: `64 MiB`, `512 KiB`, `1000 bytes`.
pub(crate) fn size_text(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unusable_body_is_told_by_kind_with_its_first_bytes() {
        let what = "a response object";
        assert_eq!(unusable(200, b"", what), "HTTP 200 but the body is empty");
        assert!(unusable(200, b" \n", what).contains("only whitespace"));
        let html = unusable(200, b"\n<!DOCTYPE html><html><title>Sign in", what);
        assert!(
            html.contains("an HTML page") && html.contains("starts \"\\n<!DOCTYPE"),
            "{html}"
        );
        let gz = unusable(200, b"\x1f\x8b\x08\x00rest", what);
        assert!(gz.contains("gzip") && gz.contains("\\x1f\\x8b"), "{gz}");
        let junk = unusable(200, b"{\"id\": tru", what);
        assert!(
            junk.contains("not JSON (") && junk.contains("(10 bytes)"),
            "{junk}"
        );
        let shape = unusable(200, br#"{"error":{"message":"try later"}}"#, what);
        assert!(
            shape.contains("JSON but not a response object (message: try later)"),
            "{shape}"
        );
        let long = unusable(200, &[b'x'; 500], what);
        assert!(long.ends_with("x…\""), "{long}");
    }

    #[test]
    fn sizes_read_in_the_largest_whole_unit() {
        assert_eq!(size_text(DEFAULT_MAX_BODY_SIZE), "64 MiB");
        assert_eq!(size_text(3 << 30), "3 GiB");
        assert_eq!(size_text(512 << 10), "512 KiB");
        assert_eq!(size_text(1536), "1536 bytes");
    }
}
