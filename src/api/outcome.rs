//! How one GET ended, after its retries: what the callers of the client branch on.

/// How one GET ended, after retries.
#[derive(Debug)]
pub(crate) enum Outcome<T> {
    /// A 2xx whose body parsed; `body` is exactly what was received.
    Ok {
        /// The parsed body.
        value: T,
        /// The raw body.
        body: bytes::Bytes,
    },
    /// HTTP 404.
    NotFound {
        /// The error envelope's message, if any.
        message: Option<String>,
    },
    /// The key was rejected (401/403); the client refuses further requests.
    AuthRejected,
    /// Gave up; `reason` says why (never contains the key).
    Failed {
        /// Human-readable reason.
        reason: String,
    },
    /// Not attempted: the run was stopped (key rejected) before this request.
    Skipped,
}

/// One GET's outcome plus bookkeeping.
#[derive(Debug)]
pub(crate) struct Fetched<T> {
    /// How it ended.
    pub outcome: Outcome<T>,
    /// The last HTTP status seen, if any response arrived.
    pub http_status: Option<u16>,
    /// Requests made for this item (0 when skipped).
    pub attempts: u32,
}
