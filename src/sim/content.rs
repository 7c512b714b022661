//! What a simulated response contains: the models and windows, token counts, output items
//! and texts, and errors, all drawn from the item's own generator.

use serde_json::{json, Value};

use super::data::ItemKind;

/// What identifies one item; the rest is drawn.
pub(crate) struct Item {
    /// The item's custom_id.
    pub custom_id: String,
    /// The response object's id.
    pub response_id: String,
    /// A small number echoed in `metadata.shard`.
    pub shard: u64,
    /// `created_at` of the batch; the response is created up to an hour later.
    pub batch_created_at: i64,
    /// What became of the item.
    pub kind: ItemKind,
}

/// What an item was billed for: the first draws of its generator, in the order
/// [`response_json`] makes them, so the usage endpoints bill exactly what a result shows.
pub(crate) struct Billed {
    /// The model id.
    pub model: &'static str,
    /// The window in `metadata.completion_window`, if any.
    pub window: Option<&'static str>,
    /// The response's `created_at`.
    pub created_at: i64,
    /// Input tokens (cached included), cached input tokens, output tokens.
    pub tokens: [i64; 3],
    job: u32,
    usage: Tokens,
}

/// Draws what `item` is billed for (its generator then continues into the body).
pub(crate) fn billed(rng: &mut fastrand::Rng, item: &Item) -> Billed {
    let model = pick_model(rng);
    let window = match rng.u32(..100) {
        0..=5 => None,
        _ => Some(model.windows[rng.usize(..model.windows.len())]),
    };
    let usage = Tokens::draw(rng, model.reasons, item.kind);
    let job = rng.u32(1..=4);
    let created_at = item.batch_created_at + rng.i64(1..=3600);
    Billed {
        model: model.id,
        window,
        created_at,
        tokens: [usage.input, usage.cached, usage.output],
        job,
        usage,
    }
}

/// The response object's JSON, drawn from `rng` (seeded per item by the caller).
pub(crate) fn response_json(rng: &mut fastrand::Rng, item: &Item) -> Vec<u8> {
    let kind = item.kind;
    let head = billed(rng, item);
    let (usage, window, created_at) = (head.usage, head.window, head.created_at);
    let id = &item.custom_id;
    let mut metadata =
        json!({"job": format!("eval-{}", head.job), "shard": item.shard.to_string()});
    if let Some(w) = window {
        metadata["completion_window"] = json!(w);
    }
    let temperature = [0.0, 0.2, 0.7, 1.0][rng.usize(..4)];
    let max_output = if kind == ItemKind::Incomplete {
        usage.output
    } else {
        16_384
    };
    let body = json!({
        "id": item.response_id,
        "object": "response",
        "created_at": created_at,
        "status": kind.response_status(),
        "model": head.model,
        "metadata": metadata,
        "input": [{"role": "user", "content": format!("Question {id}: say something useful.")}],
        "output": output_items(rng, id, kind, &usage),
        "usage": usage.to_json(rng),
        "error": error_for(rng, kind),
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
