//! Tests of the dataset sink's recovery of an interrupted replacement.

use super::*;

/// A replacement killed after its publish is finished by the next open (the files it
/// replaces go); one killed before its publish is dropped (they stay: they still hold
/// their rows). Either way the journal goes.
#[test]
fn an_interrupted_replacement_is_finished_or_dropped_by_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ds");
    let part = root.join("batch_id=b");
    std::fs::create_dir_all(&part).unwrap();
    for name in [
        "part-1-old.parquet",
        "part-2-new.parquet",
        "part-3-kept.parquet",
    ] {
        std::fs::write(part.join(name), b"PAR1").unwrap();
    }
    let meta = root.join(layout::meta_dir("b"));
    std::fs::create_dir_all(&meta).unwrap();
    let journal = |new: &str, old: &str| {
        let j = json!({ "part": new, "replaces": [old] });
        std::fs::write(meta.join(format!("commit-{new}.json")), j.to_string()).unwrap();
    };
    journal("part-2-new.parquet", "part-1-old.parquet");
    journal("part-9-never-published.parquet", "part-3-kept.parquet");

    let store = Store::open(&root.display().to_string()).unwrap();
    let target = Target {
        batch_id: "b".to_owned(),
        shard: None,
        whole_batch: true,
    };
    let scratch = target.scratch(&store).unwrap();
    let sink = DatasetSink::open(store, target, scratch).unwrap();
    assert_eq!(sink.existing, ["part-2-new.parquet", "part-3-kept.parquet"]);
    let left: Vec<String> = std::fs::read_dir(&meta)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("commit-"))
        .collect();
    assert!(left.is_empty(), "journals left: {left:?}");
}
