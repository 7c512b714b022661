//! Exact money: prices as integer nano-dollars per 1M tokens, amounts as integer
//! femto-dollars, so sums over millions of rows are exact and rounding happens once, on print.

use std::fmt;

/// Decimal places a price may carry (USD per 1M tokens): 9, i.e. units of 1e-9 USD / 1M tokens.
pub(crate) const PRICE_DECIMALS: u32 = 9;
/// Decimal places of an amount: one price unit times one token is 1e-15 USD.
pub(crate) const AMOUNT_DECIMALS: u32 = 15;

/// A price in USD per 1M tokens, held as an integer count of 1e-9 USD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate(i64);

impl Rate {
    /// Converts a price as written in a price file; `None` when it is negative, not finite,
    /// above $1,000,000 per 1M tokens, or finer than 9 decimal places.
    pub(crate) fn from_usd(usd: f64) -> Option<Rate> {
        if !usd.is_finite() || !(0.0..=1e6).contains(&usd) {
            return None;
        }
        let scaled = usd * 10f64.powi(PRICE_DECIMALS as i32);
        let units = scaled.round();
        // A price written with at most 9 decimals lands within float noise of an integer.
        ((scaled - units).abs() <= 1e-3).then_some(Rate(units as i64))
    }

    /// The price in USD per 1M tokens (the nearest f64).
    pub(crate) fn usd(self) -> f64 {
        self.0 as f64 / 10f64.powi(PRICE_DECIMALS as i32)
    }

    /// What `tokens` tokens cost at this price, exactly.
    pub fn times(self, tokens: i64) -> Usd {
        Usd(i128::from(self.0) * i128::from(tokens))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&decimal(i128::from(self.0), PRICE_DECIMALS, None))
    }
}

/// An amount of US dollars, held as an integer count of 1e-15 USD.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Usd(i128);

impl Usd {
    /// Zero dollars.
    pub const ZERO: Usd = Usd(0);

    /// The amount in femto-dollars (1e-15 USD).
    pub(crate) fn femto(self) -> i128 {
        self.0
    }

    /// The nearest f64 number of dollars (for JSON).
    pub fn to_f64(self) -> f64 {
        // Parsing the exact decimal gives the correctly rounded f64.
        self.exact().parse().unwrap_or(f64::NAN)
    }

    /// Every digit: up to 15 decimals, trailing zeros dropped ("12.5", "0.000123").
    pub fn exact(self) -> String {
        decimal(self.0, AMOUNT_DECIMALS, None)
    }

    /// Rounded half away from zero to `places` decimals (at most 15), zeros kept ("12.3400").
    pub(crate) fn rounded(self, places: u32) -> String {
        decimal(self.0, AMOUNT_DECIMALS, Some(places.min(AMOUNT_DECIMALS)))
    }
}

impl std::ops::Add for Usd {
    type Output = Usd;
    fn add(self, rhs: Usd) -> Usd {
        Usd(self.0 + rhs.0)
    }
}

impl std::ops::AddAssign for Usd {
    fn add_assign(&mut self, rhs: Usd) {
        self.0 += rhs.0;
    }
}

impl std::ops::Sub for Usd {
    type Output = Usd;
    fn sub(self, rhs: Usd) -> Usd {
        Usd(self.0 - rhs.0)
    }
}

impl std::iter::Sum for Usd {
    fn sum<I: Iterator<Item = Usd>>(iter: I) -> Usd {
        iter.fold(Usd::ZERO, |a, b| a + b)
    }
}

/// Formats `value / 10^scale` in decimal: all digits with trailing zeros trimmed when
/// `places` is `None`, else rounded half away from zero to exactly `places` decimals.
fn decimal(value: i128, scale: u32, places: Option<u32>) -> String {
    let neg = value < 0;
    let mut abs = value.unsigned_abs();
    let shown = places.unwrap_or(scale);
    if shown < scale {
        let cut = 10u128.pow(scale - shown);
        abs = (abs + cut / 2) / cut;
    }
    let unit = 10u128.pow(shown);
    let (int, frac) = (abs / unit, abs % unit);
    let mut frac = format!("{frac:0width$}", width = shown as usize);
    if places.is_none() {
        frac.truncate(frac.trim_end_matches('0').len());
    }
    let sign = if neg && (int > 0 || frac.bytes().any(|b| b != b'0')) {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_convert_exactly_and_bad_ones_are_refused() {
        assert_eq!(Rate::from_usd(0.006).unwrap().to_string(), "0.006");
        assert_eq!(Rate::from_usd(12.5).unwrap().to_string(), "12.5");
        assert_eq!(Rate::from_usd(0.000000001).unwrap().0, 1);
        assert_eq!(Rate::from_usd(0.0).unwrap().0, 0);
        assert!(Rate::from_usd(-0.1).is_none());
        assert!(Rate::from_usd(f64::NAN).is_none());
        assert!(Rate::from_usd(0.0000000001).is_none(), "10 decimals");
        assert!(Rate::from_usd(2e6).is_none());
        assert_eq!(Rate::from_usd(0.08).unwrap().usd(), 0.08);
    }

    #[test]
    fn a_million_small_costs_sum_to_the_exact_figure() {
        // 0.1 + 0.2 style drift: one million rows of 7 tokens at $0.006 / 1M tokens each.
        let rate = Rate::from_usd(0.006).unwrap();
        let total: Usd = (0..1_000_000).map(|_| rate.times(7)).sum();
        // 7e6 tokens × $0.006 / 1e6 = $0.042 exactly.
        assert_eq!(total.exact(), "0.042");
        assert_eq!(total.to_f64(), 0.042);
        let big = Rate::from_usd(12.5).unwrap().times(1_000_000_000_000);
        assert_eq!(big.exact(), "12500000");
    }

    #[test]
    fn amounts_round_half_away_from_zero() {
        let a = Rate::from_usd(0.5).unwrap().times(25_000); // $0.0125
        assert_eq!(a.exact(), "0.0125");
        assert_eq!(a.rounded(2), "0.01");
        assert_eq!(a.rounded(3), "0.013");
        assert_eq!((Usd::ZERO - a).rounded(3), "-0.013");
        assert_eq!((Usd::ZERO - a).rounded(1), "0.0");
        assert_eq!(Usd::ZERO.exact(), "0");
        assert_eq!(Usd::ZERO.rounded(4), "0.0000");
    }
}
