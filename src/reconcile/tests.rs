//! The verdicts on lines the integration tests do not reach: tokens the bill lacks, the
//! first day of a rolling range, exports that cost more than a bill they only partly cover.

use super::*;
use crate::api::usage::DayUsage;
use crate::time::day;

const GLM: &str = "zai-org/GLM-5.3";

fn d(s: &str) -> i64 {
    day::parse(s).unwrap()
}

/// A bill of GLM-5.3 on each day: (day, cents, tokens).
fn bill(days: &[(&str, f64, i64)]) -> Breakdown {
    Breakdown {
        days: days
            .iter()
            .map(|(day, cents, tokens)| DayUsage {
                day: d(day),
                models: vec![ModelUsage {
                    model: GLM.to_owned(),
                    cents: Some(*cents),
                    tokens: Some(*tokens),
                    ..ModelUsage::default()
                }],
            })
            .collect(),
        ..Breakdown::default()
    }
}

/// Exports of GLM-5.3 flex (0.40 / 0.08 / 1.80): 1M uncached input tokens a day, $0.40.
fn exports(days: &[&str]) -> Exports {
    let mut e = Exports::default();
    for day in days {
        let line = Exported {
            requests: 1,
            tokens: [1_000_000, 0, 0],
            by_window: [("flex".to_owned(), [1_000_000, 0, 0])].into(),
            cost: price(
                &[1_000_000, 0, 0],
                price_for(&PriceTable::bundled(), GLM, "flex", d(day)).unwrap(),
            ),
            unpriced_requests: 0,
        };
        e.lines.insert((d(day), GLM.to_owned()), line);
    }
    e
}

fn verdicts(r: &Reconciliation) -> Vec<&'static str> {
    r.lines.iter().map(|l| l.verdict.name()).collect()
}

#[test]
fn tokens_the_bill_lacks_disagree_except_on_a_rolling_ranges_first_day() {
    let p = PriceTable::bundled();
    let b = bill(&[("2026-10-01", 40.0, 900_000), ("2026-10-02", 40.0, 900_000)]);
    let e = || exports(&["2026-10-01", "2026-10-02", "2026-10-03"]);
    let rolling = compare("7d", &b, e(), &p);
    // 10-03 is past the bill's last day: not compared.
    assert_eq!(verdicts(&rolling), ["range_edge", "not_billed"]);
    assert_eq!(rolling.outside_requests, 1);
    assert!(rolling.disagrees());
    let period = compare("period", &b, e(), &p);
    assert_eq!(verdicts(&period), ["not_billed", "not_billed"]);
}

#[test]
fn a_part_that_costs_more_than_the_whole_bill_disagrees() {
    let p = PriceTable::bundled();
    let e = || exports(&["2026-10-01"]);
    // 1M of 2M tokens, $0.40 of a $0.30 bill.
    let r = compare("period", &bill(&[("2026-10-01", 30.0, 2_000_000)]), e(), &p);
    assert_eq!(verdicts(&r), ["exceeds_bill"]);
    let r = compare("period", &bill(&[("2026-10-01", 80.0, 2_000_000)]), e(), &p);
    assert_eq!(verdicts(&r), ["partial"]);
    assert_eq!(r.lines[0].coverage, Some(0.5));
    assert!(!r.disagrees());
}

#[test]
fn the_money_agrees_within_a_cent_and_a_wrong_price_is_scaled() {
    let p = PriceTable::bundled();
    let e = || exports(&["2026-10-01"]);
    for cents in [39.01, 40.0, 40.99] {
        let r = compare(
            "period",
            &bill(&[("2026-10-01", cents, 1_000_000)]),
            e(),
            &p,
        );
        assert_eq!(verdicts(&r), ["agrees"], "{cents}");
    }
    let r = compare("period", &bill(&[("2026-10-01", 50.0, 1_000_000)]), e(), &p);
    assert_eq!(verdicts(&r), ["wrong_price"]);
    let x = r.lines[0].explanation.as_ref().unwrap();
    assert_eq!(x.factor, 1.25);
    assert_eq!(x.scaled[0].window, "flex");
    assert!((x.scaled[0].prices[0] - 0.50).abs() < 1e-12);
    // Every token at the balanced price (0.50) is exactly the bill.
    assert_eq!(x.matching_window.as_deref(), Some("standard"));
}
