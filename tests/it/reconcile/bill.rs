//! `reconcile` against a usage API served by wiremock: an exact bill and the JSON report's
//! shape, a body with unknown and oddly typed fields, and a rejected key.

use std::path::PathBuf;

use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{lines, reconcile, report};
use crate::harness::*;

/// Two GLM-5.3 flex results of 2025-11-24, each 1,000,000 input (200,000 cached) and
/// 500,000 output tokens: $1.236 each at the bundled 0.40 / 0.08 / 1.80, 247.2 cents in all.
async fn two_results(server: &MockServer, dir: &std::path::Path) -> PathBuf {
    let items = [
        ("a", completed("a", 1_000_000, 200_000, 500_000, 0)),
        ("b", completed("b", 1_000_000, 200_000, 500_000, 0)),
    ];
    serve_results(server, "batch_r", &items).await;
    let db = dir.join("r.sqlite");
    let ids = manifest(dir, &["a", "b"]);
    let out = fetch(server, "batch_r", &ids, &db, &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    db
}

/// Serves `GET /v1/usage/breakdown?range=30d` with `body`, for the test key only.
async fn serve_bill(server: &MockServer, status: u16, body: Value) {
    Mock::given(method("GET"))
        .and(path("/v1/usage/breakdown"))
        .and(query_param("range", "30d"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

fn glm(cents: Value, tokens: Value) -> Value {
    json!({"object": "usage.breakdown", "range": "30d", "granularity": "day", "data": [
        {"timestamp": "2025-11-24", "total": cents, "slas": {"flex": cents},
         "models": {"zai-org/GLM-5.3": {"total": cents, "tokens": tokens,
            "input_tokens": 1_600_000, "output_tokens": 1_000_000, "cached_tokens": 400_000}}}
    ]})
}

#[tokio::test(flavor = "multi_thread")]
async fn the_json_report_sets_bill_and_export_side_by_side() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = two_results(&server, dir.path()).await;
    serve_bill(&server, 200, glm(json!(247), json!(3_000_000))).await;
    let out = reconcile(&base(&server), &[&db], &["--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let r = report(&out);
    assert_eq!(
        r,
        json!({
            "range": "30d", "first_day": "2025-11-24", "last_day": "2025-11-24",
            "disagreements": 0, "outside_range_requests": 0, "unplaced_requests": 0,
            "unreadable_days": 0, "exit_code": 0,
            "lines": [{
                "day": "2025-11-24", "model": "zai-org/GLM-5.3",
                "billed_cents": 247.0, "billed_tokens": 3_000_000,
                "billed_input_tokens": 1_600_000, "billed_cached_tokens": 400_000,
                "billed_output_tokens": 1_000_000,
                "exported_requests": 2, "exported_tokens": 3_000_000,
                "exported_input_tokens": 1_600_000, "exported_cached_tokens": 400_000,
                "exported_output_tokens": 1_000_000,
                "computed_usd": 2.472, "computed_cents": 247.2, "unpriced_requests": 0,
                "coverage": 1.0, "verdict": "agrees", "explanation": null,
            }],
        })
    );
    // A cent more than the table's price is a disagreement, named.
    let server2 = MockServer::start().await;
    let db2 = two_results(&server2, dir.path()).await;
    serve_bill(&server2, 200, glm(json!(674), json!(3_000_000))).await;
    let out = reconcile(&base(&server2), &[&db2], &["--json"]).await;
    assert_eq!(out.code, 3, "{out:?}");
    let l = &lines(&report(&out))[0];
    assert_eq!(l["verdict"], "wrong_price");
    // 674 cents is every token at the asap price in force on 2025-11-24: the first one seen
    // (August 2026's 1.40 / 0.26 / 4.40) covers the days before it.
    assert_eq!(l["explanation"]["matching_window"], "asap", "{l}");
    let factor = l["explanation"]["factor"].as_f64().unwrap();
    assert!((factor - 674.0 / 247.2).abs() < 1e-9, "{l}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_fields_and_odd_types_in_the_bill_are_tolerated() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = two_results(&server, dir.path()).await;
    let mut bill = glm(json!("247"), json!(3_000_000.0));
    bill["next_page"] = json!({"cursor": null});
    bill["models"] = json!([{"model": "zai-org/GLM-5.3", "total": 247, "new": true}]);
    let day = &mut bill["data"][0];
    day["currency"] = json!("usd");
    day["models"]["zai-org/GLM-5.3"]["sla"] = json!({"flex": 1});
    day["models"]["zai-org/GLM-5.3"]["reasoning_tokens"] = json!([1, 2]);
    bill["data"]
        .as_array_mut()
        .unwrap()
        .push(json!({"timestamp": null, "models": 7, "extra": "x"}));
    serve_bill(&server, 200, bill).await;
    let out = reconcile(&base(&server), &[&db], &["--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let r = report(&out);
    assert_eq!(lines(&r)[0]["verdict"], "agrees", "{r}");
    assert_eq!(r["unreadable_days"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_key_is_exit_1_naming_the_key_without_printing_it() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = two_results(&server, dir.path()).await;
    for status in [401, 403] {
        Mock::given(method("GET"))
            .and(path("/v1/usage/breakdown"))
            .respond_with(ResponseTemplate::new(status).set_body_json(
                json!({"error": {"message": "invalid key", "type": "authentication_error"}}),
            ))
            .mount(&server)
            .await;
        let out = reconcile(&base(&server), &[&db], &["--json"]).await;
        assert_eq!(out.code, 1, "{out:?}");
        assert!(out.stderr.contains("rejected the key"), "{}", out.stderr);
        assert!(out.stderr.contains("SAIL_API_KEY"), "{}", out.stderr);
        let failed: Value = serde_json::from_str(out.stdout.trim()).unwrap();
        assert_eq!(failed["exit_code"], 1, "{failed}");
        server.reset().await;
    }
}
