//! The simulator's synthetic data: batches and their items, each item generated on demand
//! from `(seed, batch, custom_id)` alone, so a simulated batch of any size costs no memory
//! and the same seed always serves the same bytes.

use serde_json::{json, Value};

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
    pub fn batch_status(self) -> &'static str {
        match self {
            ItemKind::Completed | ItemKind::Incomplete | ItemKind::Expired => "COMPLETED",
            ItemKind::Failed => "FAILED",
            ItemKind::Cancelled => "CANCELLED",
            ItemKind::Running => "RUNNING",
            ItemKind::Queued => "PENDING",
        }
    }

    /// The lowercase `status` of the response object.
    fn response_status(self) -> &'static str {
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

/// A model the simulated account uses: id, the windows it runs in, whether it reasons, and
/// its weight in the mix.
struct Model {
    id: &'static str,
    windows: &'static [&'static str],
    reasons: bool,
    weight: u32,
}

/// Models and windows as Sail lists them (E3 names, plus the older `standard`).
const MODELS: &[Model] = &[
    Model {
        id: "zai-org/GLM-5.3",
        windows: &["flex", "balanced"],
        reasons: true,
        weight: 25,
    },
    Model {
        id: "zai-org/GLM-5.3-Flash",
        windows: &["flex", "balanced"],
        reasons: false,
        weight: 15,
    },
    Model {
        id: "moonshotai/Kimi-K3",
        windows: &["balanced", "flex", "standard"],
        reasons: true,
        weight: 15,
    },
    Model {
        id: "deepseek-ai/DeepSeek-V4-Pro-0813",
        windows: &["flex", "balanced"],
        reasons: true,
        weight: 15,
    },
    Model {
        id: "deepseek-ai/DeepSeek-V4.1-Flash",
        windows: &["flex", "balanced"],
        reasons: false,
        weight: 10,
    },
    Model {
        id: "google/gemma-4-31B-it",
        windows: &["balanced", "flex"],
        reasons: false,
        weight: 8,
    },
    Model {
        id: "Qwen/Qwen3.6-35B-A3B",
        windows: &["flex"],
        reasons: true,
        weight: 7,
    },
    Model {
        id: "openai/gpt-oss-120b",
        windows: &["asap"],
        reasons: true,
        weight: 5,
    },
];

/// Words the output text is made of: plain English, accents, CJK, Cyrillic, emoji.
const WORDS: &[&str] = &[
    "the",
    "result",
    "is",
    "a",
    "batch",
    "of",
    "tokens",
    "and",
    "we",
    "find",
    "that",
    "cost",
    "model",
    "answer",
    "because",
    "therefore",
    "naïve",
    "café",
    "résumé",
    "東京",
    "数据",
    "Привет",
    "мир",
    "🚀",
    "✓",
    "—",
    "«quoted»",
    "x²",
    "λ",
    "∑",
    "über",
    "Ζεύς",
    "\"q\"",
    "line\nbreak",
    "tab\there",
    "back\\slash",
    "42",
    "3.14",
    "{json}",
    "</tag>",
];

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
    pub fn main_batch(&self) -> &str {
        &self.batch_ids[0]
    }

    /// Every batch id, oldest first (the list order).
    pub fn batch_ids(&self) -> impl Iterator<Item = &str> {
        self.batch_ids.iter().rev().map(String::as_str)
    }

    /// Items per batch.
    pub fn items(&self) -> u64 {
        self.items
    }

    /// Index of a batch id (0 = main), `None` when unknown.
    pub fn batch_index(&self, id: &str) -> Option<usize> {
        self.batch_ids.iter().position(|b| b == id)
    }

    /// The custom_id of item `i`: `req-000123` (valid per Sail's custom_id pattern).
    pub fn custom_id(i: u64) -> String {
        format!("req-{i:06}")
    }

    /// The index of a custom_id this dataset serves, `None` for any other string.
    pub fn item_index(&self, custom_id: &str) -> Option<u64> {
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

    /// Creation time of batch `b`.
    pub fn batch_created_at(&self, b: usize) -> i64 {
        self.epoch - 86_400 * b as i64
    }

    /// `{id, label, created_at, request_counts}` of batch `b`, as in the list.
    pub fn batch_summary(&self, b: usize) -> Value {
        json!({
            "id": self.batch_ids[b],
            "label": format!("sim-eval-{b}"),
            "created_at": self.batch_created_at(b),
            "request_counts": self.items,
        })
    }

    /// `GET /batches/{id}` for batch `b`: the summary plus `request_status` for every item,
    /// with `finished` deciding whether running/queued items have completed meanwhile.
    pub fn batch_status_json(&self, b: usize, finished: bool) -> Vec<u8> {
        let mut out = serde_json::to_vec(&self.batch_summary(b)).expect("json");
        out.pop(); // the closing brace: request_status is appended by hand to stay lean
        out.extend_from_slice(b",\"request_status\":{");
        for i in 0..self.items {
            if i > 0 {
                out.push(b',');
            }
            let mut kind = self.kind(b, i);
            if finished && kind.is_unfinished() {
                kind = ItemKind::Completed;
            }
            out.extend_from_slice(b"\"");
            out.extend_from_slice(Dataset::custom_id(i).as_bytes());
            out.extend_from_slice(b"\":{\"status\":\"");
            out.extend_from_slice(kind.batch_status().as_bytes());
            out.extend_from_slice(b"\"}");
        }
        out.extend_from_slice(b"}}");
        out
    }

    /// The response object of item `i` of batch `b` as `kind` (the caller decides whether an
    /// unfinished item has finished meanwhile, and answers 404 for `Expired`).
    pub fn response_json(&self, b: usize, i: u64, kind: ItemKind) -> Vec<u8> {
        let mut rng = fastrand::Rng::with_seed(mix(self.seed, b as u64, i));
        let model = pick_model(&mut rng);
        let window = match rng.u32(..100) {
            0..=5 => None,
            _ => Some(model.windows[rng.usize(..model.windows.len())]),
        };
        let usage = Tokens::draw(&mut rng, model.reasons, kind);
        let id = Dataset::custom_id(i);
        let mut metadata =
            json!({"job": format!("eval-{}", rng.u32(1..=4)), "shard": (i % 16).to_string()});
        if let Some(w) = window {
            metadata["completion_window"] = json!(w);
        }
        let created_at = self.batch_created_at(b) + rng.i64(1..=3600);
        let temperature = [0.0, 0.2, 0.7, 1.0][rng.usize(..4)];
        let max_output = if kind == ItemKind::Incomplete {
            usage.output
        } else {
            16_384
        };
        let body = json!({
            "id": format!("resp_{:016x}", mix(self.seed, b as u64, i ^ 0x5eed)),
            "object": "response",
            "created_at": created_at,
            "status": kind.response_status(),
            "model": model.id,
            "metadata": metadata,
            "input": [{"role": "user", "content": format!("Question {id}: say something useful.")}],
            "output": output_items(&mut rng, &id, kind, &usage),
            "usage": usage.to_json(&mut rng),
            "error": error_for(&mut rng, kind),
            "incomplete_details": (kind == ItemKind::Incomplete)
                .then(|| json!({"reason": "max_output_tokens"})),
            "max_output_tokens": max_output,
            "temperature": temperature,
            "top_p": 1.0,
            "store": false,
            "truncation": "disabled",
            "text": {"format": {"type": "text"}},
            "parallel_tool_calls": true,
            "tool_choice": "auto",
            "tools": [],
            "user": null,
        });
        serde_json::to_vec(&body).expect("json")
    }
}

/// Token counts of one item.
struct Tokens {
    input: i64,
    cached: i64,
    output: i64,
    reasoning: i64,
}

impl Tokens {
    /// Log-normal prompt and completion sizes; prompt caching on about half the items;
    /// reasoning models spend 20–80 % of their output thinking. Unfinished and cancelled
    /// items have used nothing yet; failed ones were charged their prompt only.
    fn draw(rng: &mut fastrand::Rng, reasons: bool, kind: ItemKind) -> Tokens {
        let input = lognormal(rng, 1500.0, 1.1).clamp(20.0, 900_000.0) as i64;
        let cached = if rng.bool() {
            (input as f64 * (0.2 + 0.75 * rng.f64())) as i64
        } else {
            0
        };
        let long = rng.u32(..100) < 5;
        let output = if long {
            rng.i64(4000..=16_000)
        } else {
            lognormal(rng, 350.0, 1.0).clamp(1.0, 16_000.0) as i64
        };
        let reasoning = if reasons {
            (output as f64 * (0.2 + 0.6 * rng.f64())) as i64
        } else {
            0
        };
        match kind {
            ItemKind::Running | ItemKind::Queued | ItemKind::Cancelled => Tokens {
                input: 0,
                cached: 0,
                output: 0,
                reasoning: 0,
            },
            ItemKind::Failed => Tokens {
                input,
                cached,
                output: 0,
                reasoning: 0,
            },
            _ => Tokens {
                input,
                cached,
                output,
                reasoning,
            },
        }
    }

    /// Sail's `usage` object; a third of the items also carry the Chat-style aliases.
    fn to_json(&self, rng: &mut fastrand::Rng) -> Value {
        let mut u = json!({
            "input_tokens": self.input,
            "input_tokens_details": {"cached_tokens": self.cached, "reasoning_tokens": 0},
            "output_tokens": self.output,
            "output_tokens_details": {"cached_tokens": 0, "reasoning_tokens": self.reasoning},
            "total_tokens": self.input + self.output,
        });
        if rng.u32(..3) == 0 {
            u["prompt_tokens"] = json!(self.input);
            u["completion_tokens"] = json!(self.output);
        }
        u
    }
}

/// The `output` array: a reasoning item for reasoning models, then the message; roughly
/// four characters of text per visible output token.
fn output_items(rng: &mut fastrand::Rng, id: &str, kind: ItemKind, t: &Tokens) -> Value {
    if !matches!(kind, ItemKind::Completed | ItemKind::Incomplete) {
        return json!([]);
    }
    let mut items = Vec::with_capacity(2);
    if t.reasoning > 0 {
        items.push(json!({
            "type": "reasoning",
            "id": format!("rs_{id}"),
            "summary": [{"type": "summary_text", "text": text(rng, 160)}],
        }));
    }
    let chars = ((t.output - t.reasoning).max(1) * 4).min(64_000) as usize;
    let mut parts =
        vec![json!({"type": "output_text", "text": text(rng, chars), "annotations": []})];
    if rng.u32(..10) == 0 {
        parts.push(json!({"type": "output_text", "text": " (2)", "annotations": []}));
    }
    items.push(json!({
        "type": "message",
        "id": format!("msg_{id}"),
        "role": "assistant",
        "status": kind.response_status(),
        "content": parts,
    }));
    Value::Array(items)
}

/// `error {code, message}` for failed items, `null` otherwise.
fn error_for(rng: &mut fastrand::Rng, kind: ItemKind) -> Value {
    const ERRORS: [(&str, &str); 3] = [
        (
            "server_error",
            "the model backend failed while generating; retry the request",
        ),
        (
            "context_length_exceeded",
            "input is longer than the model's context window",
        ),
        (
            "invalid_prompt",
            "the prompt was flagged by the content policy",
        ),
    ];
    if kind != ItemKind::Failed {
        return Value::Null;
    }
    let (code, message) = ERRORS[rng.usize(..ERRORS.len())];
    json!({"code": code, "message": message})
}

/// About `chars` bytes of text drawn from `WORDS`.
fn text(rng: &mut fastrand::Rng, chars: usize) -> String {
    let mut s = String::with_capacity(chars + 16);
    while s.len() < chars {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(WORDS[rng.usize(..WORDS.len())]);
    }
    s
}

fn pick_model(rng: &mut fastrand::Rng) -> &'static Model {
    let total: u32 = MODELS.iter().map(|m| m.weight).sum();
    let mut roll = rng.u32(..total);
    for m in MODELS {
        if roll < m.weight {
            return m;
        }
        roll -= m.weight;
    }
    &MODELS[0]
}

/// A log-normal draw with this median and spread (Box–Muller).
fn lognormal(rng: &mut fastrand::Rng, median: f64, sigma: f64) -> f64 {
    let (u1, u2) = (rng.f64().max(1e-12), rng.f64());
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    median * (sigma * z).exp()
}

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
