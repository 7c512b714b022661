//! The HTML report in a real browser: headless Chromium, its network pointed at nothing,
//! renders the page without a console message (the page's policy makes any load or script
//! one) and its screenshot is not blank. The screenshot of the showcase export is the
//! README's `docs/report.png`:
//! `SAIL_REPORT_PNG=docs/report.png cargo test --test it cost::html_chromium`.
//!
//! Without Chromium the tests skip, saying so — except under CI, where they fail.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sail_export::row::Row;

use super::html::{hostile, html_report};
use crate::cost::{export, row, T0};

/// Chromium: `SAIL_EXPORT_CHROMIUM`, else `chromium` or `chromium-browser` on the PATH.
fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SAIL_EXPORT_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// Chromium, or `None` after saying why the test is skipped; under CI a missing Chromium
/// is a failure (`.ci/run` installs it), so the test can't pass by skipping there.
fn chromium_or_skip() -> Option<PathBuf> {
    let found = find_chromium();
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if found.is_none() {
        assert!(
            !ci,
            "CI is set but Chromium is missing: install Debian's chromium"
        );
        eprintln!("skipped: no chromium on the PATH (apt-get install chromium)");
    }
    found
}

/// Renders `page` in headless Chromium with networking off (a proxy that refuses, every
/// host name unresolvable) and screenshots it into `png`; returns the console messages.
/// `dark`: as a reader who prefers dark colours.
async fn render(chromium: &Path, page: &Path, png: &Path, dark: bool) -> Vec<String> {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(chromium);
    cmd.args([
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-color-profile=srgb",
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1200,2000",
    ])
    .args(dark.then_some("--force-dark-mode"))
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(format!("--screenshot={}", png.display()))
    .arg(format!("file://{}", page.display()))
    .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("chromium finished within 120 s")
        .expect("run chromium");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && png.is_file(), "chromium: {stderr}");
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect()
}

/// What a screenshot shows.
struct Shot {
    /// Distinct colours.
    distinct: usize,
    /// The share of pixels unlike the top-left one (the page's background).
    drawn: f64,
    /// The share of coloured pixels (not grey: text is grey, the charts are not).
    coloured: f64,
    /// The background's luminance, 0 to 255.
    background: u32,
}

/// Reads an RGB(A) PNG.
fn look(png: &Path) -> Shot {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    assert!(step >= 3, "an RGB screenshot: {:?}", info.color_type);
    let px: Vec<&[u8]> = buf[..info.buffer_size()]
        .chunks(step)
        .map(|p| &p[..3])
        .collect();
    let distinct: HashSet<&[u8]> = px.iter().copied().collect();
    let other = px.iter().filter(|p| **p != px[0]).count();
    let chroma = |p: &[u8]| p.iter().max().unwrap() - p.iter().min().unwrap();
    let coloured = px.iter().filter(|p| chroma(p) > 40).count();
    let [r, g, b] = [0, 1, 2].map(|i| u32::from(px[0][i]));
    Shot {
        distinct: distinct.len(),
        drawn: other as f64 / px.len() as f64,
        coloured: coloured as f64 / px.len() as f64,
        background: (r * 299 + g * 587 + b * 114) / 1000,
    }
}

/// A fortnight of six priced models and one unpriced, in three windows (and none), over
/// five batches: what the README's screenshot shows.
fn showcase() -> Vec<Row> {
    const MODELS: [(&str, u64); 7] = [
        ("moonshotai/Kimi-K3", 5),
        ("zai-org/GLM-5.3", 4),
        ("deepseek-ai/DeepSeek-V4-Pro-0813", 3),
        ("zai-org/GLM-5.3-Flash", 3),
        ("google/gemma-4-31B-it", 2),
        ("deepseek-ai/DeepSeek-V4.1-Flash", 2),
        ("acme/in-house-7b", 1),
    ];
    const WINDOWS: [Option<&str>; 4] = [Some("flex"), Some("balanced"), Some("asap"), None];
    const BATCHES: [&str; 5] = [
        "nightly-evals",
        "doc-summaries",
        "support-triage",
        "code-review",
        "translations",
    ];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut rows = Vec::new();
    for i in 0..1_400u64 {
        let day = (i % 14) as i64;
        let pick = next(20);
        let model = MODELS
            .iter()
            .scan(0, |acc, (m, w)| {
                *acc += w;
                Some((*acc, *m))
            })
            .find(|(acc, _)| pick < *acc)
            .map_or(MODELS[0].0, |(_, m)| m);
        let window = WINDOWS[next(4) as usize];
        let batch = format!("batch_{}", BATCHES[(next(5) + day as u64 / 5) as usize % 5]);
        let input = 2_000 + next(40_000) as i64 * (1 + day % 3);
        let cached = input * next(70) as i64 / 100;
        let output = 200 + next(6_000) as i64;
        let id = format!("req-{i:05}");
        let created = T0 - (13 - day) * 86_400;
        rows.push(row(
            &batch,
            &id,
            model,
            window,
            created,
            [input, cached, output, output / 4],
        ));
    }
    rows
}

#[tokio::test]
async fn chromium_renders_the_report_offline_without_console_messages_in_light_and_dark() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = export(dir.path(), "showcase.sqlite", &showcase());
    html_report(&db, dir.path()).await;
    let page = dir.path().join("report.html");
    for dark in [false, true] {
        let png = dir.path().join(format!("report-{dark}.png"));
        let console = render(&chromium, &page, &png, dark).await;
        assert!(console.is_empty(), "console: {console:#?}");
        let shot = look(&png);
        // Text alone gives a few grey levels; the charts add the palette's colours.
        let (distinct, drawn) = (shot.distinct, shot.drawn);
        assert!(
            distinct >= 64,
            "{distinct} colours: a blank or chartless page"
        );
        assert!(drawn > 0.05, "{:.1}% of the pixels drawn", drawn * 100.0);
        let coloured = shot.coloured * 100.0;
        assert!(
            coloured > 2.0,
            "{coloured:.1}% of the pixels in colour: no chart"
        );
        match dark {
            false => assert!(shot.background > 200, "light: {}", shot.background),
            true => assert!(shot.background < 60, "dark: {}", shot.background),
        }
    }
    if let Some(keep) = std::env::var_os("SAIL_REPORT_PNG") {
        std::fs::copy(dir.path().join("report-false.png"), &keep).unwrap();
        eprintln!("screenshot saved to {}", PathBuf::from(keep).display());
    }
}

#[tokio::test]
async fn chromium_runs_and_loads_nothing_from_names_in_the_export() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The check itself: a script or an image under the page's policy is a console message.
    let control = dir.path().join("control.html");
    let policy = "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\">";
    std::fs::write(
        &control,
        format!("<!DOCTYPE html><html><head>{policy}</head><body><script>document.title='x'</script></body></html>"),
    )
    .unwrap();
    let seen = render(&chromium, &control, &dir.path().join("control.png"), false).await;
    assert!(!seen.is_empty(), "a blocked script logs a console message");

    let db = export(dir.path(), "hostile.sqlite", &hostile());
    html_report(&db, dir.path()).await;
    let png = dir.path().join("hostile.png");
    let console = render(&chromium, &dir.path().join("report.html"), &png, false).await;
    assert!(console.is_empty(), "console: {console:#?}");
    assert!(look(&png).distinct >= 64);
}
