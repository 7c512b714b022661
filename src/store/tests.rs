//! Tests of `store`: the local store's publish, put-if-absent and listing; URLs; errors.

use super::*;

#[test]
fn a_local_store_lists_publishes_puts_once_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("ds").display().to_string()).unwrap();
    store.check().unwrap();
    assert!(
        store.list("batch_id=a", false).unwrap().is_empty(),
        "missing is empty"
    );

    let rel = "batch_id=a/part-1.parquet";
    let tmp = store.staging_path(rel, dir.path()).unwrap();
    let tmp_name = tmp.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        tmp_name.starts_with('.') && tmp_name.ends_with(".tmp"),
        "{tmp_name}"
    );
    std::fs::write(&tmp, b"PAR1").unwrap();
    store.publish(&tmp, rel, &Cancel::default()).unwrap();
    assert!(!tmp.exists());
    assert_eq!(store.list("batch_id=a", false).unwrap(), ["part-1.parquet"]);
    assert_eq!(store.list("", true).unwrap(), ["batch_id=a"]);
    assert_eq!(store.get(rel).unwrap().as_deref(), Some(&b"PAR1"[..]));

    let marker = "_sail_export/a/complete.json";
    assert!(store.put_if_absent(marker, b"first".to_vec()).unwrap());
    assert!(!store.put_if_absent(marker, b"second".to_vec()).unwrap());
    assert_eq!(store.get(marker).unwrap().as_deref(), Some(&b"first"[..]));
    let leftovers: Vec<String> = store
        .list("_sail_export/a", false)
        .unwrap()
        .into_iter()
        .filter(|n| n != "complete.json")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    store.delete(rel).unwrap();
    store.delete(rel).unwrap();
    assert_eq!(store.get(rel).unwrap(), None);
}

#[test]
fn urls_are_told_from_paths_and_a_missing_parent_is_refused() {
    for url in ["s3://b/p/", "S3://b", "gs://b/x", "az://c/p", "abfs://c/p"] {
        assert!(is_url(url), "{url}");
    }
    for path in ["results/", "./s3/", "s3:/x", "s3://", "/tmp/gs://x"] {
        assert!(!is_url(path), "{path}");
    }
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("no/such/ds");
    let err = Store::open(&deep.display().to_string())
        .unwrap()
        .check()
        .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[test]
fn an_xml_error_body_is_shown_as_its_code_and_message() {
    let e = object_store::Error::Generic {
        store: "S3",
        source: "GET http://h/b: 404 Not Found: <?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><RequestId>x</RequestId></Error>".into(),
    };
    let text = describe(&e);
    assert!(
        text.contains("NoSuchBucket: The specified bucket does not exist"),
        "{text}"
    );
    assert!(
        !text.contains("<?xml") && !text.contains("RequestId"),
        "{text}"
    );
}
