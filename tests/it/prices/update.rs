//! `sail-export prices update --from URL` against the simulator's pricing page: a change, no
//! change, and broken pages (exit 1, nothing written); `cost` then prices by the new file.

use sail_export::sim::{Sim, SimConfig, SimHandle};

use super::*;

async fn sim() -> SimHandle {
    Sim::start(SimConfig {
        api_key: KEY.to_owned(),
        ..SimConfig::new(1)
    })
    .await
    .unwrap()
}

fn today() -> String {
    chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

fn yesterday() -> String {
    (chrono::Utc::now().date_naive() - chrono::Days::new(1))
        .format("%Y-%m-%d")
        .to_string()
}

fn files(dir: &Path) -> Vec<String> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<String> = read
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_price_is_reported_written_and_used_by_cost_from_its_day_on() {
    let sim = sim().await;
    let home = tempfile::tempdir().unwrap();
    let prices = home.path().join("prices");
    std::fs::create_dir(&prices).unwrap();
    // What an update read yesterday: GLM-5.3 asap back at August's price.
    let old = format!(
        "version = \"{y}\"\n[[price]]\nmodel = \"zai-org/GLM-5.3\"\nwindow = \"asap\"\ninput = 1.40\ncached_input = 0.26\noutput = 4.40\nseen = \"{y}\"\n",
        y = yesterday()
    );
    std::fs::write(prices.join(format!("sail-{}.toml", yesterday())), old).unwrap();
    let out = run_in(&prices, &["prices", "update", "--from", &sim.pricing_url()]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains("changed: zai-org/GLM-5.3 × 'asap': 1.4 / 0.26 / 4.4 → 0.98 / 0.18 / 3.08"),
        "{}",
        out.stdout
    );
    assert_eq!(out.stdout.matches("changed:").count(), 1, "{}", out.stdout);
    assert!(
        out.stdout.contains("read 36 prices of 14 models"),
        "{}",
        out.stdout
    );
    let new = format!("sail-{}.toml", today());
    assert_eq!(
        files(&prices),
        [format!("sail-{}.toml", yesterday()), new.clone()]
    );

    // cost prices yesterday's row by yesterday's file and today's by today's, and says so.
    let rows = [
        row(
            "y",
            "zai-org/GLM-5.3",
            Some("asap"),
            &yesterday(),
            [1_000_000, 0, 1_000_000],
        ),
        row(
            "t",
            "zai-org/GLM-5.3",
            Some("asap"),
            &today(),
            [1_000_000, 0, 1_000_000],
        ),
    ];
    let db = export(home.path(), "x.sqlite", &rows);
    let r = cost_json(&prices, &db, &["--by", "day"]).await;
    assert_eq!(
        group(&r, &[("day", &yesterday())])["cost_usd"],
        5.8,
        "{r:#}"
    );
    assert_eq!(group(&r, &[("day", &today())])["cost_usd"], 4.06);
    let files_used: Vec<&str> = r["prices"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert!(
        files_used.iter().any(|f| f.ends_with(&new)),
        "{files_used:?}"
    );
    let table = run_in(&prices, &["cost", db.to_str().unwrap()]).await;
    assert!(
        table.stdout.contains(&format!("{new} [{}]", today())),
        "{}",
        table.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_prices_are_no_change() {
    let sim = sim().await;
    let home = tempfile::tempdir().unwrap();
    let prices = home.path().join("prices");
    for _ in 0..2 {
        let out = run_in(&prices, &["prices", "update", "--from", &sim.pricing_url()]).await;
        assert_eq!(out.code, 0, "{out:?}");
        assert!(out.stdout.contains("no change"), "{}", out.stdout);
        assert!(
            !out.stdout.contains("changed:") && !out.stdout.contains("new:"),
            "{}",
            out.stdout
        );
    }
    assert_eq!(files(&prices), [format!("sail-{}.toml", today())]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_that_does_not_parse_is_exit_1_and_nothing_is_written() {
    let sim = sim().await;
    let home = tempfile::tempdir().unwrap();
    let prices = home.path().join("prices");
    let cases = [
        ("?break=number", "the input price 'TBA' is not a number"),
        ("?break=structure", "no data-model attribute"),
        ("?break=empty", "no price row"),
    ];
    for (query, why) in cases {
        let url = format!("{}{query}", sim.pricing_url());
        let out = run_in(&prices, &["prices", "update", "--from", &url]).await;
        assert_eq!(out.code, 1, "{query}: {out:?}");
        assert!(
            out.stderr.contains("does not read as a price list"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains(why), "{query}: {}", out.stderr);
        assert!(out.stderr.contains("nothing was written"), "{}", out.stderr);
        assert!(files(&prices).is_empty(), "{query}: {:?}", files(&prices));
    }
    let missing = sim.pricing_url().replace("pricing.md", "nope.md");
    let out = run_in(&prices, &["prices", "update", "--from", &missing]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("HTTP 401"),
        "the API's gate answers: {}",
        out.stderr
    );
    assert!(files(&prices).is_empty());
}

/// An export written again after `prices update` carries the new prices in its view.
#[tokio::test(flavor = "multi_thread")]
async fn an_export_written_after_an_update_carries_the_new_prices() {
    let sim = sim().await;
    let home = tempfile::tempdir().unwrap();
    let prices = home.path().join("prices");
    let db = home.path().join("x.sqlite");
    let fetch = |dir: PathBuf| {
        let (base, batch, db) = (sim.base_url(), sim.batch_id().to_owned(), db.clone());
        async move {
            let args = [
                "fetch",
                &batch,
                "-o",
                db.to_str().unwrap(),
                "--base-url",
                &base,
            ];
            let out = run_in(&dir, &args).await;
            assert!(matches!(out.code, 0 | 3), "{out:?}");
        }
    };
    fetch(prices.clone()).await;
    let glm_asap = "SELECT effective_from, input FROM prices \
                    WHERE model = 'zai-org/GLM-5.3' AND completion_window = 'asap' ORDER BY 1";
    assert_eq!(
        query(&db, glm_asap).len(),
        2,
        "the bundled August and October prices"
    );
    std::fs::create_dir_all(&prices).unwrap();
    let t = today();
    std::fs::write(
        prices.join(format!("sail-{t}.toml")),
        format!("version = \"{t}\"\n[[price]]\nmodel = \"zai-org/GLM-5.3\"\nwindow = \"asap\"\ninput = 0.5\ncached_input = 0.1\noutput = 1\nseen = \"{t}\"\n"),
    )
    .unwrap();
    fetch(prices.clone()).await;
    let rows = query(&db, glm_asap);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[2]["effective_from"], t.as_str());
    assert_eq!(rows[2]["input"], 0.5);
}
