-- 0001: the results table (one row per batch_id × custom_id) and the runs log.
-- Column order here is Row::COLUMNS order; a test holds the two together.
CREATE TABLE results (
    batch_id                TEXT    NOT NULL,
    custom_id               TEXT    NOT NULL,
    fetch_state             TEXT    NOT NULL,
    http_status             INTEGER,
    attempts                INTEGER,
    fetch_error             TEXT,
    fetched_at              INTEGER,
    response_id             TEXT,
    status                  TEXT,
    model                   TEXT,
    created_at              INTEGER,
    completion_window       TEXT,
    input_tokens            INTEGER,
    input_cached_tokens     INTEGER,
    input_reasoning_tokens  INTEGER,
    output_tokens           INTEGER,
    output_cached_tokens    INTEGER,
    output_reasoning_tokens INTEGER,
    total_tokens            INTEGER,
    prompt_tokens           INTEGER,
    completion_tokens       INTEGER,
    output_text             TEXT,
    error_code              TEXT,
    error_message           TEXT,
    incomplete_reason       TEXT,
    max_output_tokens       INTEGER,
    temperature             REAL,
    top_p                   REAL,
    metadata_json           TEXT,
    raw_json                TEXT,
    PRIMARY KEY (batch_id, custom_id)
);


CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    batch_id     TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    tool_version TEXT    NOT NULL,
    options_json TEXT    NOT NULL,
    total        INTEGER,
    skipped      INTEGER,
    fetched      INTEGER,
    pending      INTEGER,
    not_found    INTEGER,
    error        INTEGER,
    requests     INTEGER,
    retries      INTEGER,
    outcome      TEXT
);
