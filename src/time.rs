//! Time as people read it: now in Unix seconds, RFC 3339 UTC text, ages like `41h 12m`, the
//! moments `--since` / `--until` take, and UTC calendar days (for price `effective_from` and
//! `--by day`), on top of `chrono` and `humantime`.

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

/// A moment as every `--since` / `--until` takes it, in Unix seconds: a date (`2026-10-01`,
/// its first second in UTC), an RFC 3339 date-time (`2026-10-01T12:00:00Z`,
/// `2026-10-01T14:00:00+02:00`), or a duration (`72h`, `7d`, `1h30m`) meaning that long
/// before now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Moment(pub i64);

impl Moment {
    /// Parses what the user typed, a duration counting back from `now` (Unix seconds). The
    /// error says what was wrong and the forms taken, for the caller to prefix with the flag
    /// and the value: `--since 'x' {error}`.
    pub fn parse(s: &str, now: i64) -> Result<Moment, String> {
        let t = s.trim();
        let b = t.as_bytes();
        let dated = b.len() > 4 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-';
        if !dated {
            return Self::before(t, now);
        }
        if let Some(d) = day::parse(t) {
            return Ok(Moment(d * day::DAY_SECS));
        }
        if t.len() <= 10 {
            return Err("is not a date; use YYYY-MM-DD (a UTC day, e.g. 2026-10-01)".into());
        }
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|d| Moment(d.timestamp()))
            .map_err(|e| {
                format!(
                    "is not a date-time ({e}); use RFC 3339 with its UTC offset, e.g. \
                     2026-10-01T12:00:00Z or 2026-10-01T14:00:00+02:00"
                )
            })
    }

    /// A duration back from `now`.
    fn before(t: &str, now: i64) -> Result<Moment, String> {
        let forms = "use a date (2026-10-01), a date-time (2026-10-01T12:00:00Z) or a duration \
                     (72h, 7d, 90m: that long before now)";
        let d = humantime::parse_duration(t)
            .map_err(|e| format!("is not a date, a date-time or a duration ({e}); {forms}"))?;
        i64::try_from(d.as_secs())
            .ok()
            .and_then(|secs| now.checked_sub(secs))
            .map(Moment)
            .ok_or_else(|| format!("is too long ago; {forms}"))
    }

    /// As the user would write it back: the date when it is a day's first second, else
    /// RFC 3339 UTC.
    pub fn text(self) -> String {
        if self.0.rem_euclid(day::DAY_SECS) == 0 {
            day::format(day::of_unix(self.0))
        } else {
            utc_text(self.0)
        }
    }
}

/// The `created_at` range that `--since` / `--until` keep: from `since` (inclusive) to
/// `until` (exclusive), open where not given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    /// The first second kept.
    pub since: Option<i64>,
    /// The first second no longer kept.
    pub until: Option<i64>,
}

impl Span {
    /// Whether a row created at `t` is kept; one without a time only when nothing narrows.
    pub fn contains(self, t: Option<i64>) -> bool {
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        t.is_some_and(|t| self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u))
    }
}

/// UTC calendar days as a count of days since 1970-01-01: a plain integer is what the cost
/// scan groups by and compares, millions of times per report.
pub mod day {
    use chrono::{Days, NaiveDate};

    /// Seconds in a day.
    pub(crate) const DAY_SECS: i64 = 86_400;

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

    /// 2026-10-08T12:00:00Z.
    const NOW: i64 = 1_791_460_800;

    #[test]
    fn moments_are_dates_date_times_or_durations_back_from_now() {
        let at = |s: &str| Moment::parse(s, NOW).map(|m| m.0);
        let oct1 = 1_790_812_800;
        assert_eq!(utc_text(oct1), "2026-10-01T00:00:00Z");
        assert_eq!(at("2026-10-01"), Ok(oct1));
        assert_eq!(at(" 2026-10-01 "), Ok(oct1));
        assert_eq!(at("2026-10-01T00:00:00Z"), Ok(oct1));
        assert_eq!(at("2026-10-01T12:30:00Z"), Ok(oct1 + 45_000));
        assert_eq!(at("2026-10-01T14:30:00+02:00"), Ok(oct1 + 45_000));
        assert_eq!(at("2026-10-01T12:30:00.5Z"), Ok(oct1 + 45_000));
        assert_eq!(at("72h"), Ok(NOW - 72 * 3600));
        assert_eq!(at("7d"), Ok(NOW - 7 * 86_400));
        assert_eq!(at("1h30m"), Ok(NOW - 5400));
        assert_eq!(at("0s"), Ok(NOW));
    }

    #[test]
    fn a_bad_moment_says_which_forms_are_taken() {
        let why = |s: &str| Moment::parse(s, NOW).unwrap_err();
        assert!(why("2026-13-01").starts_with("is not a date; use YYYY-MM-DD"));
        assert!(why("2026-02-30").starts_with("is not a date; use YYYY-MM-DD"));
        for s in [
            "2026-10-01T12:00",
            "2026-10-01T25:00:00Z",
            "2026-10-01 noon",
        ] {
            assert!(
                why(s).starts_with("is not a date-time ("),
                "{s}: {}",
                why(s)
            );
            assert!(why(s).contains("2026-10-01T12:00:00Z"), "{s}");
        }
        for s in ["soon", "22/09/2026", "3 days ago", "", "-5h"] {
            let w = why(s);
            assert!(
                w.starts_with("is not a date, a date-time or a duration"),
                "{s}: {w}"
            );
            assert!(
                w.contains("2026-10-01T12:00:00Z") && w.contains("72h"),
                "{s}: {w}"
            );
        }
        assert!(
            why("400000000000y").starts_with("is too long ago"),
            "{}",
            why("400000000000y")
        );
    }

    #[test]
    fn a_moment_reads_back_as_it_would_be_written() {
        assert_eq!(Moment(1_790_812_800).text(), "2026-10-01");
        assert_eq!(Moment(1_790_812_801).text(), "2026-10-01T00:00:01Z");
    }

    #[test]
    fn a_span_keeps_since_inclusive_until_exclusive_and_undated_rows_only_when_open() {
        let span = Span {
            since: Some(10),
            until: Some(20),
        };
        assert!(!span.contains(Some(9)) && span.contains(Some(10)) && span.contains(Some(19)));
        assert!(!span.contains(Some(20)) && !span.contains(None));
        assert!(Span::default().contains(None) && Span::default().contains(Some(-1)));
    }

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
