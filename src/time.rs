//! Time as people read it: now in Unix seconds, RFC 3339 UTC text, ages like `41h 12m`, and
//! UTC calendar days (for price `effective_from` and `--by day`), on top of `chrono`.

/// Now, in Unix seconds.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A Unix time as RFC 3339 UTC (`2026-12-01T18:10:01Z`); the number itself when out of range.
pub(crate) fn utc_text(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).map_or_else(
        || unix.to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

/// A duration in seconds as `5m 3s`, `41h 12m` or `3d 4h`.
pub(crate) fn age_text(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..172_800 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// UTC calendar days as a count of days since 1970-01-01: a plain integer is what the cost
/// scan groups by and compares, millions of times per report.
pub mod day {
    use chrono::{Days, NaiveDate};

    /// Seconds in a day.
    const DAY_SECS: i64 = 86_400;

    fn epoch() -> NaiveDate {
        NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date")
    }

    /// The UTC day of a Unix time (floor, so times before 1970 work).
    pub fn of_unix(secs: i64) -> i64 {
        secs.div_euclid(DAY_SECS)
    }

    /// Parses `YYYY-MM-DD` (exactly that shape) into days since 1970-01-01; `None` unless
    /// it is a real date.
    pub(crate) fn parse(s: &str) -> Option<i64> {
        let b = s.as_bytes();
        let shaped = b.len() == 10
            && b.iter().enumerate().all(|(i, c)| {
                matches!(i, 4 | 7) == (*c == b'-') && (c.is_ascii_digit() || *c == b'-')
            });
        if !shaped {
            return None;
        }
        let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        Some(date.signed_duration_since(epoch()).num_days())
    }

    /// Formats days since 1970-01-01 as `YYYY-MM-DD`.
    pub(crate) fn format(days: i64) -> String {
        let date = match u64::try_from(days) {
            Ok(d) => epoch().checked_add_days(Days::new(d)),
            Err(_) => epoch().checked_sub_days(Days::new(days.unsigned_abs())),
        };
        date.map_or_else(|| days.to_string(), |d| d.format("%Y-%m-%d").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::day::{format, of_unix, parse};
    use super::*;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age_text(65), "1m 5s");
        assert_eq!(age_text(41 * 3600 + 12 * 60), "41h 12m");
        assert_eq!(age_text(3 * 86_400 + 4 * 3600), "3d 4h");
        assert_eq!(utc_text(1_764_612_601), "2025-12-01T18:10:01Z");
    }

    #[test]
    fn dates_round_trip_and_match_unix_days() {
        assert_eq!(parse("1970-01-01"), Some(0));
        assert_eq!(parse("2026-09-01"), Some(of_unix(1_788_220_800)));
        assert_eq!(format(of_unix(1_764_000_000)), "2025-11-24");
        assert_eq!(of_unix(-1), -1);
        for d in [-700_000, -1, 0, 59, 365, 20_000, 2_932_896] {
            assert_eq!(parse(&format(d)), Some(d), "{d}");
        }
    }

    #[test]
    fn impossible_dates_are_refused() {
        for s in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "20260901",
            "2026-09-01T00:00:00",
            "+026-09-01",
        ] {
            assert_eq!(parse(s), None, "{s}");
        }
        assert!(parse("2024-02-29").is_some());
    }
}
