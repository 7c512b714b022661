-- 0005: what the API says of each batch an export holds, as `GET /batches/{id}` answered
-- the last run that read it: the `label` given at creation, `created_at` (Unix seconds)
-- and `request_counts` (as sent: Sail's integer, or the JSON text of another shape).
-- `seen_at` is when that answer was read. A run whose status read failed leaves the row as
-- it was. `load` adds a row, with only the label, for a batch whose Parquet rows carry
-- one. `cost --by label` names a batch by this label; a batch without a row here, or
-- without a label, is `(none)`.
CREATE TABLE IF NOT EXISTS batches (
    batch_id       TEXT PRIMARY KEY,
    label          TEXT,
    created_at     INTEGER,
    request_counts TEXT,
    seen_at        INTEGER NOT NULL
);

-- The same label on every row of the batch, as the Parquet exports carry it, so that
-- `load` and a copy of `results` keep it (NULL for rows written before this migration).
ALTER TABLE results ADD COLUMN batch_label TEXT;
