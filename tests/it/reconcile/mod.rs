//! `reconcile`: exports compared with what Sail billed, against the simulator's usage API
//! (billed from the items it serves) and against wiremock (exact bills, odd bodies, a
//! rejected key). Shared helpers live here.

mod bill;
mod sim;

use std::path::Path;

use serde_json::Value;

use crate::harness::*;

/// `sail-export reconcile EXPORTS --usage-url URL` plus `extra`; asserts the key leaked nowhere.
pub async fn reconcile(usage_url: &str, exports: &[&Path], extra: &[&str]) -> Output {
    let mut args = vec!["reconcile"];
    args.extend(exports.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--usage-url", usage_url, "--max-retries", "0"]);
    args.extend_from_slice(extra);
    let out = run(&args).await;
    assert_no_key(&out);
    out
}

/// The JSON report of a `--json` run.
pub fn report(out: &Output) -> Value {
    serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON report ({e}): {out:?}"))
}

/// The report's lines.
pub fn lines(report: &Value) -> Vec<Value> {
    report["lines"].as_array().expect("lines").clone()
}
