//! Outputs are safe to point at: a database of someone else's is refused byte for byte
//! untouched (unless `--allow-foreign-db`), an empty file or an export is written into, and
//! a batch id that is not one name is refused before anything is requested or created.

use super::*;

/// Makes `path` a small database of someone else's, in `journal` mode; returns its bytes.
fn foreign_db(path: &Path, journal: &str) -> Vec<u8> {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", journal).unwrap();
    conn.execute_batch(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
         INSERT INTO notes (body) VALUES ('keep me');
         CREATE INDEX notes_body ON notes (body);",
    )
    .unwrap();
    drop(conn);
    std::fs::read(path).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_sqlite_file_is_refused_untouched_in_either_journal_mode() {
    let b = "batch_f";
    let ids = ids(3);
    let server = serve_batch(b, &ids).await;
    for journal in ["delete", "wal"] {
        let dir = tempfile::tempdir().unwrap();
        let db = at(dir.path(), "notes.sqlite");
        let before = foreign_db(&db, journal);
        assert_eq!(files_in(dir.path()), ["notes.sqlite"]);
        let out = output(fetch_cmd(b, &db, &base(&server), &[])).await;
        assert_eq!(out.code, 2, "{journal}: {out:?}");
        assert!(out.stderr.contains("notes.sqlite"), "{}", out.stderr);
        assert!(out.stderr.contains("--allow-foreign-db"), "{}", out.stderr);
        assert_eq!(
            std::fs::read(&db).unwrap(),
            before,
            "{journal}: bytes changed"
        );
        assert_eq!(
            files_in(dir.path()),
            ["notes.sqlite"],
            "{journal}: files left"
        );
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn allow_foreign_db_writes_the_export_beside_the_users_tables() {
    let b = "batch_fa";
    let ids = ids(3);
    let server = serve_batch(b, &ids).await;
    let dir = tempfile::tempdir().unwrap();
    let db = at(dir.path(), "notes.sqlite");
    foreign_db(&db, "delete");
    let out = output(fetch_cmd(b, &db, &base(&server), &["--allow-foreign-db"])).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(query(&db, "SELECT body FROM notes")[0]["body"], "keep me");
    assert_eq!(id_counts(&db, b).1, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn load_refuses_a_foreign_database_too() {
    let b = "batch_fl";
    let ids = ids(2);
    let server = serve_batch(b, &ids).await;
    let dir = tempfile::tempdir().unwrap();
    let pq = at(dir.path(), "x.parquet");
    let out = output(fetch_cmd(b, &pq, &base(&server), &[])).await;
    assert_eq!(out.code, 0, "{out:?}");
    let db = at(dir.path(), "notes.db");
    let before = foreign_db(&db, "wal");
    let (pq, db_s) = (pq.to_str().unwrap(), db.to_str().unwrap());
    let refused = run(&["load", pq, "--into", db_s]).await;
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("--allow-foreign-db"),
        "{}",
        refused.stderr
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
    assert_eq!(files_in(dir.path()), ["notes.db", "x.parquet"]);
    let loaded = run(&["load", pq, "--into", db_s, "--allow-foreign-db"]).await;
    assert_eq!(loaded.code, 0, "{loaded:?}");
    assert_eq!(id_counts(&db, b).1, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_that_is_not_sqlite_is_refused_untouched() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = at(dir.path(), "data.db");
    std::fs::write(&db, "name,value\na,1\n").unwrap();
    let out = output(fetch_cmd("batch_n", &db, &base(&server), &[])).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("not a SQLite file"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&db).unwrap(), "name,value\na,1\n");
    assert_eq!(files_in(dir.path()), ["data.db"]);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_file_and_an_export_of_another_batch_are_written_into() {
    let ids = ids(4);
    let first = serve_batch("batch_1", &ids).await;
    let second = serve_batch("batch_2", &ids).await;
    let dir = tempfile::tempdir().unwrap();
    let db = at(dir.path(), "all.sqlite");
    std::fs::write(&db, "").unwrap();
    let out = output(fetch_cmd("batch_1", &db, &base(&first), &[])).await;
    assert_eq!(out.code, 0, "{out:?}");
    let out = output(fetch_cmd("batch_2", &db, &base(&second), &[])).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(id_counts(&db, "batch_1").1, 4);
    assert_eq!(id_counts(&db, "batch_2").1, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_id_that_is_not_one_name_is_refused_before_any_request_or_file() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ids = manifest(dir.path(), &["a"]);
    for bad in [
        "",
        ".",
        "..",
        "a/b",
        "batch_x/../x",
        "a\\b",
        "a b",
        "a\tb",
        "a\u{7}b",
    ] {
        let mut cmd = command(&[
            "fetch",
            bad,
            "-m",
            ids.to_str().unwrap(),
            "--base-url",
            &base(&server),
        ]);
        cmd.current_dir(dir.path());
        let out = output(cmd).await;
        assert_eq!(out.code, 2, "{bad:?}: {out:?}");
        assert!(out.stderr.contains("BATCH_ID"), "{}", out.stderr);
        assert_eq!(files_in(dir.path()), ["ids.txt"], "{bad:?}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_output_is_named_after_the_batch_in_the_current_folder() {
    let b = "batch_here";
    let ids = ids(2);
    let server = serve_batch(b, &ids).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(&["fetch", b, "--base-url", &base(&server)]);
    cmd.current_dir(dir.path());
    let out = output(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(files_in(dir.path()), ["batch_here.sqlite"]);
}
