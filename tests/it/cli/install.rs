//! How the tool is installed: the release workflow builds for targets Rust knows, the wheel
//! takes its version from Cargo.toml, the container image and the deploy examples agree, and
//! the binary under test is the one `SAIL_EXPORT_BIN` names.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every target the release workflow builds: each job's matrix `target` and each step's
/// `with: target`, read with a YAML parser (PyYAML, which the S3 server's package brings).
fn workflow_targets(workflow: &Path) -> Vec<String> {
    let py = crate::harness::python().expect("a Python with PyYAML reads the workflow");
    let script = r#"
import json, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
found = []
for job in doc["jobs"].values():
    for entries in job.get("strategy", {}).get("matrix", {}).values():
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and "target" in entry:
                found.append(entry["target"])
    for step in job.get("steps", []):
        target = step.get("with", {}).get("target")
        if target is not None and "${{" not in target:
            found.append(target)
print(json.dumps(found))
"#;
    let out = Command::new(py)
        .args(["-c", script])
        .arg(workflow)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON list of targets")
}

/// The targets Rust can build for: `rustup target list` (those whose standard library
/// rustup has), else, without rustup, every target `rustc` knows.
fn known_targets() -> BTreeSet<String> {
    let rustup = Command::new("rustup").args(["target", "list"]).output();
    let out = match rustup {
        Ok(out) if out.status.success() => out,
        _ => Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .args(["--print", "target-list"])
            .output()
            .expect("run rustc --print target-list"),
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_release_workflow_builds_every_platform_for_targets_rust_knows() {
    let workflow = root().join(".github/workflows/release.yml");
    let targets = workflow_targets(&workflow);
    let known = known_targets();
    assert!(known.contains("x86_64-unknown-linux-gnu"), "{known:?}");
    for t in &targets {
        assert!(
            known.contains(t),
            "release.yml builds for {t}, which Rust does not know"
        );
    }
    for platform in [
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
    ] {
        assert!(
            targets.iter().any(|t| t == platform),
            "release.yml does not build {platform}: {targets:?}"
        );
    }
    let text = std::fs::read_to_string(&workflow).unwrap();
    assert!(
        text.contains("sha256sum"),
        "the release has no SHA-256 sums"
    );
}

#[test]
fn the_wheel_is_the_binary_with_the_crate_version() {
    let text = std::fs::read_to_string(root().join("pyproject.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&text).expect("pyproject.toml parses");
    let project = doc["project"].as_table().expect("[project]");
    assert_eq!(project["name"].as_str(), Some(env!("CARGO_PKG_NAME")));
    assert!(
        !project.contains_key("version"),
        "the version is Cargo.toml's: pyproject.toml must not set one"
    );
    let dynamic: Vec<&str> = project["dynamic"]
        .as_array()
        .expect("dynamic = [...]")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(dynamic.contains(&"version"), "{dynamic:?}");
    assert_eq!(doc["tool"]["maturin"]["bindings"].as_str(), Some("bin"));
}

/// The image the deploy examples run is the one the Dockerfile makes: a static binary in an
/// image with no shell, CA certificates, and a user other than root.
#[test]
fn the_deploy_examples_run_the_image_the_dockerfile_builds() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let image = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("# image: "))
        .expect("the Dockerfile names its image (`# image: NAME:TAG`)")
        .trim()
        .to_owned();
    let instructions: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(instructions.first(), Some(&"FROM scratch"), "no shell");
    assert!(
        instructions
            .iter()
            .any(|l| l.starts_with("COPY") && l.contains("ca-certificates.crt")),
        "no CA certificates"
    );
    let user = instructions
        .iter()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER");
    assert!(!["0", "root", "0:0"].contains(&user.trim()), "runs as root");
    assert!(
        instructions
            .iter()
            .any(|l| l.starts_with("ENTRYPOINT [\"/usr/local/bin/sail-export\"]")),
        "the entrypoint is not the binary (exec form)"
    );

    let mut named = 0;
    for entry in std::fs::read_dir(root().join("examples/deploy")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            let Some(at) = line.find("\"image\":").or_else(|| line.find("image:")) else {
                continue;
            };
            let value = line[at..].split_once(':').unwrap().1;
            let value = value.split('#').next().unwrap().trim();
            let value = value.trim_matches([' ', '"', ',']);
            assert_eq!(value, image, "{}: {line}", path.display());
            named += 1;
        }
    }
    assert!(
        named >= 3,
        "the deploy examples name the image {named} times"
    );
}

/// `SAIL_EXPORT_BIN` (the static binary in CI) is what the tests run, and it is this version.
#[tokio::test]
async fn the_binary_under_test_is_the_one_sail_export_bin_names() {
    let expected = match std::env::var_os("SAIL_EXPORT_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_BIN_EXE_sail-export")),
    };
    assert_eq!(crate::harness::bin(), expected);
    let out = crate::harness::run(&["--version"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout.trim(),
        concat!("sail-export ", env!("CARGO_PKG_VERSION"))
    );
}
