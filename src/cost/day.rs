//! Calendar days (UTC) as a count of days since 1970-01-01, for `effective_from` and `--by day`.

/// Seconds in a day.
const DAY_SECS: i64 = 86_400;

/// The UTC day of a unix time, as days since 1970-01-01 (floor, so times before 1970 work).
pub fn of_unix(secs: i64) -> i64 {
    secs.div_euclid(DAY_SECS)
}

/// Parses `YYYY-MM-DD` into days since 1970-01-01; `None` unless it is a real date.
pub fn parse(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(from_civil(y, m, d))
}

/// Formats days since 1970-01-01 as `YYYY-MM-DD`.
pub fn format(days: i64) -> String {
    let (y, m, d) = to_civil(days);
    format!("{y:04}-{m:02}-{d:02}")
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since the epoch of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of `from_civil` (H. Hinnant's `civil_from_days`).
fn to_civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

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
