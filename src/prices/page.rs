//! Reading Sail's pricing page (`https://docs.sailresearch.com/pricing.md`): every model ×
//! window row of its price tables. Each table body names its model (`<tbody
//! data-model="zai-org/GLM-5.3">`); each row carries its window on its cells
//! (`data-window="asap|standard|flex"`) and its prices in an `aria-label` such as
//! `GLM-5.3 Balanced pricing: input $0.50, cached $0.12, output $2.50 per 1M tokens.`
//! Lenient on spacing, quotes, case and attribute order; anything else that does not read
//! as that (no table, no row, a price that is not a number) is an error naming the place.

use super::{normalize_window, Rate};

/// One price row of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Model id (`data-model`).
    pub model: String,
    /// Window id (`data-window`), lowercase.
    pub window: String,
    /// Uncached input, cached input and output, USD per 1M tokens.
    pub input: Rate,
    /// Cached input.
    pub cached_input: Rate,
    /// Output.
    pub output: Rate,
}

/// Every price row of `page`, in page order; an error says what did not parse.
pub fn parse(page: &str) -> Result<Vec<Row>, String> {
    let lower = page.to_ascii_lowercase();
    let mut rows: Vec<Row> = Vec::new();
    let mut bodies = 0;
    let mut at = 0;
    while let Some(start) = lower[at..].find("<tbody").map(|i| at + i) {
        let tag_end = lower[start..].find('>').map_or(page.len(), |i| start + i);
        let end = lower[tag_end..]
            .find("</tbody")
            .map_or(page.len(), |i| tag_end + i);
        bodies += 1;
        let model = attr(&page[start..tag_end], "data-model").ok_or_else(|| {
            format!("table body {bodies} has no data-model attribute naming its model; the page's structure has changed")
        })?;
        parse_body(&model, &page[tag_end..end], &mut rows)?;
        at = end.max(start + 1);
    }
    if bodies == 0 {
        return Err("found no price table (no <tbody data-model=\"...\">); the page's structure has changed".into());
    }
    if rows.is_empty() {
        return Err(format!(
            "found {bodies} price tables but no price row in them"
        ));
    }
    Ok(rows)
}

/// The rows of one `<tbody>` of `model`, added to `rows`.
fn parse_body(model: &str, body: &str, rows: &mut Vec<Row>) -> Result<(), String> {
    let lower = body.to_ascii_lowercase();
    let starts: Vec<usize> = lower.match_indices("<tr").map(|(i, _)| i).collect();
    for (n, &s) in starts.iter().enumerate() {
        let e = starts.get(n + 1).copied().unwrap_or(body.len());
        let tr = &body[s..e];
        let window = attr(tr, "data-window").map(|w| normalize_window(&w));
        let label = attr(tr, "aria-label").filter(|l| l.to_ascii_lowercase().contains("pricing"));
        let (window, label) = match (window, label) {
            (None, None) => continue, // a header or spacer row
            (Some(w), Some(l)) if !w.is_empty() => (w, l),
            (None, Some(_)) | (Some(_), Some(_)) => {
                return Err(format!("model '{model}': a price row has no data-window naming its window"))
            }
            (Some(w), None) => {
                return Err(format!("model '{model}' window '{w}': the row has no aria-label \"... pricing: input $..., cached $..., output $... per 1M tokens\""))
            }
        };
        let price = |kind: &str| {
            let text = figure(&label, kind).ok_or_else(|| {
                format!("model '{model}' window '{window}': no {kind} price in \"{label}\"")
            })?;
            text.parse::<f64>()
                .ok()
                .and_then(Rate::from_usd)
                .ok_or_else(|| format!("model '{model}' window '{window}': the {kind} price '{text}' is not a number of dollars"))
        };
        let row = Row {
            model: model.to_owned(),
            input: price("input")?,
            cached_input: price("cached")?,
            output: price("output")?,
            window,
        };
        if let Some(twin) = rows
            .iter()
            .find(|r| r.model == row.model && r.window == row.window)
        {
            if *twin != row {
                return Err(format!(
                    "model '{model}' window '{}' is listed twice with different prices",
                    row.window
                ));
            }
            continue;
        }
        rows.push(row);
    }
    Ok(())
}

/// The value of attribute `name` in the first tag of `html` that has it (quotes `"` or `'`).
fn attr(html: &str, name: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name).map(|i| from + i) {
        from = i + name.len();
        let before = lower[..i].chars().next_back();
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let rest = html[from..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        let quote = rest.chars().next()?;
        if quote != '"' && quote != '\'' {
            continue;
        }
        let value = &rest[1..];
        let end = value.find(quote)?;
        return Some(unescape(value[..end].trim()));
    }
    None
}

/// The few HTML entities a label may carry.
fn unescape(s: &str) -> String {
    s.replace("&#36;", "$")
        .replace("&#x24;", "$")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The text of the figure after `kind` in a label (`input $0.50`): the characters after the
/// word, its `:` and `$`, up to the first that cannot be part of a number.
fn figure<'a>(label: &'a str, kind: &str) -> Option<&'a str> {
    let lower = label.to_ascii_lowercase();
    let i = lower.find(kind)? + kind.len();
    let rest = label[i..].trim_start_matches([' ', ':', '$', '\u{a0}']);
    let end = rest
        .find(|c: char| c == ',' || c.is_whitespace() || c == ';')
        .unwrap_or(rest.len());
    let text = rest[..end].trim_end_matches('.');
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"# Pricing
<table><thead><tr><th>Window</th><th>Input</th></tr></thead>
<tbody class="x" data-model="zai-org/GLM-5.3">
<tr aria-label="GLM-5.3 Default (ASAP) pricing: input $0.98, cached $0.18, output $3.08 per 1M tokens."><td data-window="asap">Default (ASAP)</td></tr>
<tr ARIA-LABEL='GLM-5.3 Balanced pricing: Input: &#36;0.50, cached $0.12, output $2.50 per 1M tokens.'><td data-window='standard'>Balanced</td></tr>
</tbody></table>"#;

    #[test]
    fn rows_are_read_leniently() {
        let rows = parse(PAGE).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[1].model.as_str(), rows[1].window.as_str()),
            ("zai-org/GLM-5.3", "standard")
        );
        assert_eq!(rows[1].input.to_string(), "0.5");
        assert_eq!(rows[0].output.to_string(), "3.08");
    }

    #[test]
    fn what_does_not_parse_is_refused_with_its_place() {
        let nan = PAGE.replace("$0.18", "$TBA");
        assert!(
            parse(&nan)
                .unwrap_err()
                .contains("cached price 'TBA' is not a number"),
            "{:?}",
            parse(&nan)
        );
        let gone = PAGE.replace("data-model", "data-id");
        assert!(parse(&gone).unwrap_err().contains("no data-model"));
        assert!(parse("# Pricing\nno tables")
            .unwrap_err()
            .contains("structure has changed"));
        let empty = "<tbody data-model=\"m\"></tbody>";
        assert!(parse(empty).unwrap_err().contains("no price row"));
    }
}
