//! A model × window's price history, and the rule for the days nobody observed.
//!
//! Entries come in two kinds. A dated entry (`effective_from`) is a price known to start on
//! that day. An observation (`seen`) is a price seen on Sail's page on that day: the day it
//! started is not known. Observations of the same price in a row are one entry seen from
//! its first to its last day. The first entry of a history is in force on every day before
//! it too (no earlier price is known); every later one from its `effective_from`, else from
//! the day it was first seen.
//!
//! **The unknown-change rule.** Between the last day price A was seen and the first day a
//! different price B was seen (B without `effective_from`), the change happened on a day
//! nobody recorded. A row of those days is priced at A, the earlier observation (the price
//! in force until the page is seen to say otherwise), and flagged `uncertain` with B, so
//! reports give how many rows and how much money (low to high) the rule concerns.

use super::Entry;

/// Sorts a history, merges repeated observations of one price and sets each entry's `from`.
/// Of two entries for the same day, the one added last wins (a later file).
pub(crate) fn settle(list: &mut Vec<Entry>) {
    // A stable sort keeps the order added among entries of one day.
    list.sort_by_key(Entry::date_key);
    let mut out: Vec<Entry> = Vec::with_capacity(list.len());
    for e in list.drain(..) {
        if let Some(prev) = out.last_mut() {
            if prev.date_key() == e.date_key() {
                *prev = e;
                continue;
            }
            if let (Some(p), Some(s), None) = (prev.seen, e.seen, e.effective_from) {
                if prev.same_rates(&e) {
                    prev.seen = Some((p.0, s.1));
                    if e.source != prev.source {
                        let both = [prev.source.take(), e.source].into_iter().flatten();
                        prev.source = Some(both.collect::<Vec<_>>().join("; "));
                    }
                    continue;
                }
            }
        }
        out.push(e);
    }
    for (i, e) in out.iter_mut().enumerate() {
        let seen = if i == 0 { None } else { e.seen.map(|s| s.0) };
        e.from = e.effective_from.or(seen);
    }
    *list = out;
}

/// The entry in force on `day` (`None`: the newest) and, when the day falls in an
/// unknown-change span, the later observation it may have been billed at instead.
pub(crate) fn in_force(list: &[Entry], day: Option<i64>) -> Option<(&Entry, Option<&Entry>)> {
    let i = list.iter().rposition(|e| match (e.from, day) {
        (Some(from), Some(d)) => from <= d,
        _ => true,
    })?;
    let entry = &list[i];
    let uncertain = day.and_then(|d| {
        let next = list.get(i + 1)?;
        let (_, last_seen) = entry.seen?;
        let unknown = next.effective_from.is_none() && next.seen.is_some();
        (unknown && d > last_seen && !entry.same_rates(next)).then_some(next)
    });
    Some((entry, uncertain))
}

/// One entry of the table in force on a day, and the days it covers.
#[derive(Debug, Clone, Copy)]
pub struct Span<'a> {
    /// The entry.
    pub entry: &'a Entry,
    /// The day after its last day in force (`None`: still in force).
    pub until: Option<i64>,
    /// The days `[first, until)` where the change to the next price happened on an unknown
    /// day, with that next price; `None` when the change day is known or there is none.
    pub unknown_change: Option<(i64, &'a Entry)>,
}

/// The span of the entry in force on `day` in one history.
pub fn span_at(list: &[Entry], day: i64) -> Option<Span<'_>> {
    let i = list.iter().rposition(|e| e.from.is_none_or(|f| f <= day))?;
    let entry = &list[i];
    let next = list.get(i + 1);
    let unknown_change = next.and_then(|n| {
        let (_, last) = entry.seen?;
        (n.effective_from.is_none() && n.seen.is_some() && !entry.same_rates(n))
            .then_some((last + 1, n))
    });
    Some(Span {
        entry,
        until: next.and_then(|n| n.from),
        unknown_change,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prices::Rate;

    fn seen(day: i64, input: f64, effective: Option<i64>) -> Entry {
        let r = |v: f64| Rate::from_usd(v).unwrap();
        Entry {
            model: "m".into(),
            window: "asap".into(),
            from: None,
            effective_from: effective,
            seen: effective.is_none().then_some((day, day)),
            input: r(input),
            cached_input: r(0.1),
            output: r(1.0),
            version: "v".into(),
            source: Some(format!("page of day {day}")),
            file: "f".into(),
        }
    }

    #[test]
    fn days_between_two_observations_that_disagree_are_uncertain_at_the_earlier_price() {
        let mut list = vec![
            seen(100, 1.4, None),
            seen(150, 0.98, None),
            seen(170, 0.98, None),
        ];
        settle(&mut list);
        assert_eq!(list.len(), 2, "the two 0.98 observations are one entry");
        assert_eq!(list[1].seen, Some((150, 170)));
        assert_eq!((list[0].from, list[1].from), (None, Some(150)));
        let at =
            |d| in_force(&list, Some(d)).map(|(e, u)| (e.input.usd(), u.map(|u| u.input.usd())));
        assert_eq!(at(50), Some((1.4, None)), "before the first observation");
        assert_eq!(at(100), Some((1.4, None)), "the day it was seen");
        assert_eq!(at(101), Some((1.4, Some(0.98))));
        assert_eq!(at(149), Some((1.4, Some(0.98))));
        assert_eq!(at(150), Some((0.98, None)));
        assert_eq!(at(400), Some((0.98, None)));
        let s = span_at(&list, 120).unwrap();
        assert_eq!(
            (s.until, s.unknown_change.map(|u| u.0)),
            (Some(150), Some(101))
        );
    }

    #[test]
    fn a_known_change_day_is_certain() {
        let mut list = vec![seen(100, 1.4, None), seen(0, 0.98, Some(130))];
        settle(&mut list);
        assert_eq!(list[1].from, Some(130));
        let (e, u) = in_force(&list, Some(120)).unwrap();
        assert_eq!((e.input.usd(), u.is_none()), (1.4, true));
        assert_eq!(in_force(&list, Some(130)).unwrap().0.input.usd(), 0.98);
    }
}
