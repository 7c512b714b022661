//! Whether a batch's `request_status` value is final.

/// Whether a `request_status` value is final (COMPLETED, FAILED, CANCELLED/CANCELED).
pub fn is_terminal_item_status(status: &str) -> bool {
    ["COMPLETED", "FAILED", "CANCELLED", "CANCELED"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_status_terminality() {
        assert!(is_terminal_item_status("COMPLETED"));
        assert!(is_terminal_item_status("cancelled"));
        assert!(!is_terminal_item_status("RUNNING"));
        assert!(!is_terminal_item_status("EXPIRED_SOMEDAY"));
    }
}
