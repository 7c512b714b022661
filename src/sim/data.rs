//! The simulator's synthetic data: batches and their items, each item generated on demand
//! from `(seed, batch, custom_id)` alone, so a simulated batch of any size costs no memory
//! and the same seed always serves the same bytes.

use serde_json::{json, Value};

use super::content;

/// What became of one simulated item. Drawn once per item from its seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// Finished normally: `completed`.
    Completed,
    /// Hit `max_output_tokens`: `incomplete` with `incomplete_details.reason`.
    Incomplete,
    /// The model failed: `failed` with `error {code, message}`.
    Failed,
    /// Cancelled before it ran.
    Cancelled,
    /// Still running: `in_progress` (RUNNING in the batch status).
    Running,
    /// Not started: `queued` (PENDING in the batch status).
    Queued,
    /// Listed as COMPLETED in the batch status, but the result is gone (retention): 404.
    Expired,
}

/// Per-mille shares of each kind; the rest is `Completed`.
const MIX: [(ItemKind, u32); 6] = [
    (ItemKind::Incomplete, 30),
    (ItemKind::Failed, 20),
    (ItemKind::Cancelled, 5),
    (ItemKind::Running, 30),
    (ItemKind::Queued, 10),
    (ItemKind::Expired, 10),
];

impl ItemKind {
    /// The UPPERCASE value of this item in the batch's `request_status`.
    pub(crate) fn batch_status(self) -> &'static str {
        match self {
            ItemKind::Completed | ItemKind::Incomplete | ItemKind::Expired => "COMPLETED",
            ItemKind::Failed => "FAILED",
            ItemKind::Cancelled => "CANCELLED",
            ItemKind::Running => "RUNNING",
            ItemKind::Queued => "PENDING",
        }
    }

    /// The lowercase `status` of the response object.
    pub(crate) fn response_status(self) -> &'static str {
        match self {
            ItemKind::Completed | ItemKind::Expired => "completed",
            ItemKind::Incomplete => "incomplete",
            ItemKind::Failed => "failed",
            ItemKind::Cancelled => "cancelled",
            ItemKind::Running => "in_progress",
            ItemKind::Queued => "queued",
        }
    }

    /// Whether the item is not finished (a fetch stores it as `pending`).
    pub fn is_unfinished(self) -> bool {
        matches!(self, ItemKind::Running | ItemKind::Queued)
    }
}

/// The simulated account: a few batches of `items` each. The first batch is the main one.
#[derive(Debug, Clone)]
pub struct Dataset {
    seed: u64,
    items: u64,
    epoch: i64,
    batch_ids: Vec<String>,
}

impl Dataset {
    /// `batches` batches (at least one) of `items` items; the main batch was created at
    /// `epoch` (unix seconds), each older one a day before the next.
    pub fn new(seed: u64, items: u64, batches: usize, epoch: i64) -> Dataset {
        let batch_ids = (0..batches.max(1) as u64)
            .map(|b| format!("batch_{:012x}", mix(seed, b, u64::MAX) >> 16))
            .collect();
        Dataset {
            seed,
            items,
            epoch,
            batch_ids,
        }
    }

    /// The main batch's id.
    pub(crate) fn main_batch(&self) -> &str {
        &self.batch_ids[0]
    }

    /// Every batch id, oldest first (the list order).
    pub(crate) fn batch_ids(&self) -> impl Iterator<Item = &str> {
        self.batch_ids.iter().rev().map(String::as_str)
    }

    /// Batches in the account.
    pub fn batches(&self) -> usize {
        self.batch_ids.len()
    }

    /// The id of batch `b` (0 = main).
    pub fn batch_id(&self, b: usize) -> &str {
        &self.batch_ids[b]
    }

    /// Items per batch.
    pub fn items(&self) -> u64 {
        self.items
    }

    /// Index of a batch id (0 = main), `None` when unknown.
    pub(crate) fn batch_index(&self, id: &str) -> Option<usize> {
        self.batch_ids.iter().position(|b| b == id)
    }

    /// The custom_id of item `i`: `req-000123` (valid per Sail's custom_id pattern).
    pub fn custom_id(i: u64) -> String {
        format!("req-{i:06}")
    }

    /// The index of a custom_id this dataset serves, `None` for any other string.
    pub(crate) fn item_index(&self, custom_id: &str) -> Option<u64> {
        let digits = custom_id.strip_prefix("req-")?;
        let i: u64 = digits.parse().ok()?;
        (digits.bytes().all(|b| b.is_ascii_digit()) && Dataset::custom_id(i) == custom_id)
            .then_some(i)
            .filter(|i| *i < self.items)
    }

    /// What item `i` of batch `b` is (the first draw of its generator).
    pub fn kind(&self, b: usize, i: u64) -> ItemKind {
        let roll = (mix(self.seed, b as u64, i) % 1000) as u32;
        let mut acc = 0;
        for (kind, share) in MIX {
            acc += share;
            if roll < acc {
                return kind;
            }
        }
        ItemKind::Completed
    }

    /// What item `i` of batch `b` is once `progress` of the finishing time has passed (0: as
    /// drawn; 1 or more: every running and queued item has completed). Each unfinished item
    /// completes at its own point of that time, drawn from the seed; a queued one starts
    /// running halfway to it.
    pub(crate) fn kind_at(&self, b: usize, i: u64, progress: f64) -> ItemKind {
        let kind = self.kind(b, i);
        if !kind.is_unfinished() || progress <= 0.0 {
            return kind;
        }
        // A draw of its own, so when an item finishes says nothing about what it is.
        let done_at =
            (mix(self.seed ^ FINISH_SALT, b as u64, i) >> 11) as f64 / (1u64 << 53) as f64;
        if progress >= done_at {
            ItemKind::Completed
        } else if progress >= done_at / 2.0 {
            ItemKind::Running
        } else {
            kind
        }
    }

    /// Creation time of batch `b`.
    pub(crate) fn batch_created_at(&self, b: usize) -> i64 {
        self.epoch - 86_400 * b as i64
    }

    /// `{id, label, created_at, request_counts}` of batch `b`, as in the list.
    pub(crate) fn batch_summary(&self, b: usize) -> Value {
        json!({
            "id": self.batch_ids[b],
            "label": format!("sim-eval-{b}"),
            "created_at": self.batch_created_at(b),
            "request_counts": self.items,
        })
    }

    /// `GET /batches/{id}` for batch `b`: the summary plus `request_status` for every item,
    /// each as it stands at `progress` of the finishing time (see `kind_at`).
    pub(crate) fn batch_status_json(&self, b: usize, progress: f64) -> Vec<u8> {
        let mut out = serde_json::to_vec(&self.batch_summary(b)).expect("json");
        out.pop(); // the closing brace: request_status is appended by hand to stay lean
        out.extend_from_slice(b",\"request_status\":{");
        for i in 0..self.items {
            if i > 0 {
                out.push(b',');
            }
            let kind = self.kind_at(b, i, progress);
            out.extend_from_slice(b"\"");
            out.extend_from_slice(Dataset::custom_id(i).as_bytes());
            out.extend_from_slice(b"\":{\"status\":\"");
            out.extend_from_slice(kind.batch_status().as_bytes());
            out.extend_from_slice(b"\"}");
        }
        out.extend_from_slice(b"}}");
        out
    }

    /// The body the server answers 200 with for item `i` of batch `b` as drawn: `None` for
    /// an unfinished item and for an expired one (a 404). What a benchmark parses and stores
    /// beside a run, byte for byte.
    pub fn result_body(&self, b: usize, i: u64) -> Option<Vec<u8>> {
        let kind = self.kind(b, i);
        (!kind.is_unfinished() && kind != ItemKind::Expired).then(|| self.response_json(b, i, kind))
    }

    /// The response object of item `i` of batch `b` as `kind` (the caller decides whether an
    /// unfinished item has finished meanwhile, and answers 404 for `Expired`).
    pub(crate) fn response_json(&self, b: usize, i: u64, kind: ItemKind) -> Vec<u8> {
        let mut rng = fastrand::Rng::with_seed(mix(self.seed, b as u64, i));
        let item = content::Item {
            custom_id: Dataset::custom_id(i),
            response_id: format!("resp_{:016x}", mix(self.seed, b as u64, i ^ 0x5eed)),
            shard: i % 16,
            batch_created_at: self.batch_created_at(b),
            kind,
        };
        content::response_json(&mut rng, &item)
    }

    /// What item `i` of batch `b` as `kind` was billed for: the model, window, time and
    /// tokens its result shows, drawn without writing the body.
    pub(crate) fn billed(&self, b: usize, i: u64, kind: ItemKind) -> content::Billed {
        let mut rng = fastrand::Rng::with_seed(mix(self.seed, b as u64, i));
        let item = content::Item {
            custom_id: String::new(),
            response_id: String::new(),
            shard: 0,
            batch_created_at: self.batch_created_at(b),
            kind,
        };
        content::billed(&mut rng, &item)
    }
}

/// Salts the seed of the draw that decides when an unfinished item completes.
const FINISH_SALT: u64 = 0xf1_0157;

/// SplitMix64 over the seed, batch and item: the per-item generator seed.
fn mix(seed: u64, b: u64, i: u64) -> u64 {
    let mut z =
        seed ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_strangers_are_rejected() {
        let d = Dataset::new(7, 1000, 2, 1_764_000_000);
        assert_eq!(d.item_index("req-000999"), Some(999));
        for bad in [
            "req-001000",
            "req-1",
            "req-+00001",
            "REQ-000001",
            "x",
            "req-00000a",
        ] {
            assert_eq!(d.item_index(bad), None, "{bad}");
        }
        assert_eq!(d.batch_index(d.main_batch()), Some(0));
        assert_eq!(d.batch_ids().count(), 2);
    }

    #[test]
    fn the_mix_has_every_kind_in_roughly_its_share() {
        let d = Dataset::new(1, 20_000, 1, 0);
        let count = |k| (0..20_000).filter(|i| d.kind(0, *i) == k).count();
        assert!((500..700).contains(&count(ItemKind::Running)));
        assert!((150..260).contains(&count(ItemKind::Expired)));
        assert!((17_600..18_200).contains(&count(ItemKind::Completed)));
    }

    #[test]
    fn unfinished_items_complete_one_by_one_and_queued_ones_run_first() {
        let d = Dataset::new(5, 4000, 1, 0);
        let at = |p: f64| (0..4000).map(|i| d.kind_at(0, i, p)).collect::<Vec<_>>();
        let unfinished = |ks: &[ItemKind]| ks.iter().filter(|k| k.is_unfinished()).count();
        let drawn = at(0.0);
        assert_eq!(drawn, (0..4000).map(|i| d.kind(0, i)).collect::<Vec<_>>());
        let (half, all) = (at(0.5), at(1.0));
        assert!(unfinished(&half) > 0 && unfinished(&half) < unfinished(&drawn));
        assert_eq!(unfinished(&all), 0);
        for i in 0..4000 {
            let (was, mid, end) = (drawn[i], half[i], all[i]);
            if was.is_unfinished() {
                assert_eq!(end, ItemKind::Completed);
                assert_ne!((was, mid), (ItemKind::Running, ItemKind::Queued));
            } else {
                assert_eq!((mid, end), (was, was), "finished items never change");
            }
        }
        let queued_now_running = (0..4000)
            .filter(|i| {
                drawn[*i as usize] == ItemKind::Queued && half[*i as usize] == ItemKind::Running
            })
            .count();
        assert!(queued_now_running > 0);
    }

    #[test]
    fn responses_carry_the_fields_a_fetch_flattens() {
        let d = Dataset::new(3, 500, 1, 1_764_000_000);
        let mut seen_cached = false;
        for i in 0..500 {
            let kind = d.kind(0, i);
            let v: Value = serde_json::from_slice(&d.response_json(0, i, kind)).unwrap();
            let u = &v["usage"];
            assert_eq!(
                u["total_tokens"].as_i64(),
                Some(u["input_tokens"].as_i64().unwrap() + u["output_tokens"].as_i64().unwrap())
            );
            seen_cached |= u["input_tokens_details"]["cached_tokens"].as_i64() > Some(0);
            match kind {
                ItemKind::Failed => assert!(v["error"]["code"].is_string()),
                ItemKind::Incomplete => {
                    assert_eq!(v["incomplete_details"]["reason"], "max_output_tokens")
                }
                _ => assert!(v["error"].is_null()),
            }
        }
        assert!(seen_cached);
    }
}
