//! Sail's usage API (`https://usage.sailresearch.com/v1`): what the organisation was billed
//! per UTC day and model, read through the same client as the Batch API (auth header,
//! retries, TLS) pointed at the usage base URL. Read leniently: unknown fields are ignored,
//! a count or an amount of another type is `None`, a bucket whose day cannot be read is
//! counted, not fatal.

use serde::Deserialize;
use serde_json::Value;

use super::lenient::Scalar;
use super::{Client, Fetched};
use crate::time::day;

/// Where the usage API is unless `SAIL_USAGE_URL` / `--usage-url` says otherwise.
pub const DEFAULT_USAGE_URL: &str = "https://usage.sailresearch.com/v1";

/// `GET /usage/breakdown`: billed spend and tokens per bucket and model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Breakdown {
    /// The range the API says it answered (`7d`, `30d`, `period`, ...).
    pub range: Option<String>,
    /// `day` for the ranges reconcile asks for (`hour` for a single day).
    pub granularity: Option<String>,
    /// The buckets whose day could be read, in the order given.
    pub days: Vec<DayUsage>,
    /// Buckets left out because their `timestamp` is not a `YYYY-MM-DD` day.
    pub unreadable_days: usize,
}

/// One day's bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayUsage {
    /// UTC day, days since 1970-01-01.
    pub day: i64,
    /// Each model billed that day.
    pub models: Vec<ModelUsage>,
}

/// One model's usage in a bucket. Money is cents (integer in v1; a fraction is kept).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelUsage {
    /// Model id, as the Batch API reports it in `model`.
    pub model: String,
    /// Billed spend, in cents (`total`).
    pub cents: Option<f64>,
    /// Every billed token (`tokens`).
    pub tokens: Option<i64>,
    /// Uncached input tokens (`input_tokens`).
    pub input_tokens: Option<i64>,
    /// Cached input tokens (`cached_tokens`).
    pub cached_tokens: Option<i64>,
    /// Output tokens (`output_tokens`).
    pub output_tokens: Option<i64>,
}

impl ModelUsage {
    /// Every billed token: `tokens`, else the sum of the three kinds (Sail's example has
    /// `tokens` = input + output + cached); `None` when neither is there.
    pub fn all_tokens(&self) -> Option<i64> {
        let parts = [self.input_tokens, self.cached_tokens, self.output_tokens];
        self.tokens.or_else(|| {
            parts
                .iter()
                .any(Option::is_some)
                .then(|| parts.iter().flatten().sum())
        })
    }
}

fn scalar(v: Option<&Value>) -> Option<Scalar<'_>> {
    Scalar::deserialize(v?).ok()
}

fn int(v: Option<&Value>) -> Option<i64> {
    scalar(v)?.int()
}

fn float(v: Option<&Value>) -> Option<f64> {
    scalar(v)?.float().filter(|f| f.is_finite())
}

fn string(v: Option<&Value>) -> Option<String> {
    scalar(v)?.string()
}

impl Breakdown {
    /// Reads a breakdown body; `None` when it is not one (not JSON, or no `data` array).
    pub fn parse(body: &[u8]) -> Option<Breakdown> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let data = v.get("data")?.as_array()?;
        let mut out = Breakdown {
            range: string(v.get("range")),
            granularity: string(v.get("granularity")),
            ..Breakdown::default()
        };
        for bucket in data {
            // `2026-10-07`, or a timestamp that starts with the day.
            let stamp = string(bucket.get("timestamp")).unwrap_or_default();
            let Some(d) = stamp.get(..10).and_then(day::parse) else {
                out.unreadable_days += 1;
                continue;
            };
            let models = bucket.get("models").and_then(Value::as_object);
            let models = models.into_iter().flatten().map(|(model, m)| ModelUsage {
                model: model.clone(),
                cents: float(m.get("total")),
                tokens: int(m.get("tokens")),
                input_tokens: int(m.get("input_tokens")),
                cached_tokens: int(m.get("cached_tokens")),
                output_tokens: int(m.get("output_tokens")),
            });
            out.days.push(DayUsage {
                day: d,
                models: models.collect(),
            });
        }
        Some(out)
    }
}

impl Client {
    /// `GET /usage/breakdown?range=RANGE` at this client's base URL (the usage API's),
    /// retried like every GET.
    pub(crate) async fn usage_breakdown(&self, range: &str) -> Fetched<Breakdown> {
        let url = format!("{}/usage/breakdown?range={range}", self.base_url());
        self.get(&url, (Breakdown::parse, "a usage breakdown"), None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_odd_types_are_tolerated() {
        let body = br#"{"object":"usage.breakdown","range":"7d","granularity":"day","new":[1],
            "data":[{"timestamp":"2026-10-07","total":"800","slas":{"flex":800},
                     "models":{"m/a":{"total":500.0,"tokens":"50000","input_tokens":30000,
                                       "output_tokens":15000,"cached_tokens":5000,"x":{}},
                               "m/b":{"total":null,"tokens":true,"input_tokens":7}}},
                    {"timestamp":"2026-10-08T00:00:00Z","models":null},
                    {"timestamp":"yesterday","models":{}}],
            "models":[{"model":"m/a"}]}"#;
        let b = Breakdown::parse(body).unwrap();
        assert_eq!(b.range.as_deref(), Some("7d"));
        assert_eq!(b.unreadable_days, 1);
        assert_eq!(b.days.len(), 2);
        assert_eq!(b.days[0].day, day::parse("2026-10-07").unwrap());
        let a = &b.days[0].models[0];
        assert_eq!((a.cents, a.all_tokens()), (Some(500.0), Some(50_000)));
        let m = &b.days[0].models[1];
        assert_eq!((m.cents, m.tokens, m.all_tokens()), (None, None, Some(7)));
        assert!(b.days[1].models.is_empty());
        assert_eq!(Breakdown::parse(br#"{"data":{}}"#), None);
        assert_eq!(Breakdown::parse(b"<html>"), None);
    }
}
