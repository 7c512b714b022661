//! The one rule for "finished": whether a status string, of a response object or of a
//! batch's `request_status` entry, means the item will not change any more.

/// Statuses that mean "not finished yet", compared case-insensitively: the response
/// object's (`queued`, `in_progress`) and the batch's (`QUEUED`, `PENDING`, `RUNNING`), plus
/// the in-flight names other batch APIs use.
const NON_TERMINAL: &[&str] = &[
    "queued",
    "in_progress",
    "pending",
    "running",
    "processing",
    "in_queue",
    "scheduled",
    "submitted",
    "validating",
];

/// Whether `status` is final. Only the known in-flight statuses above are not: anything
/// else, an unknown string included, counts as finished.
///
/// Why unknown means finished: a status Sail adds later is as likely an end state
/// (`EXPIRED`, ...) as a busy one, and the two mistakes cost very differently. Taken as
/// finished, an item is requested once more than needed, and its response's own status
/// still decides its row (`pending` while it says `in_progress`). Taken as unfinished, it
/// would never be requested: every rerun would write it `pending` and `--wait` would poll
/// until it gave up, with the result sitting on the server.
pub(crate) fn is_terminal(status: &str) -> bool {
    !NON_TERMINAL.iter().any(|s| s.eq_ignore_ascii_case(status))
}

#[cfg(test)]
mod tests {
    use super::is_terminal;

    #[test]
    fn in_flight_statuses_are_recognised_in_any_case() {
        for s in [
            "queued",
            "IN_PROGRESS",
            "Pending",
            "running",
            "RUNNING",
            "QUEUED",
        ] {
            assert!(!is_terminal(s), "{s}");
        }
    }

    #[test]
    fn final_and_unknown_statuses_are_terminal() {
        for s in [
            "completed",
            "failed",
            "cancelled",
            "incomplete",
            "weird_new_status",
            "COMPLETED",
            "CANCELED",
            "EXPIRED_SOMEDAY",
            "7",
            "",
        ] {
            assert!(is_terminal(s), "{s}");
        }
    }
}
