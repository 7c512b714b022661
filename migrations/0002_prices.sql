-- 0002: the price table each export carries, and the per-row cost view over it.
-- sail-export writes its bundled prices here when it creates an export; repricing is
-- UPDATE / INSERT on these tables, no refetch. The `cost` command computes the same figures
-- (exactly, in integers) from its own price files; a test holds the two together.

-- Which price file(s) filled `prices`, and the window assumed for rows with none.
CREATE TABLE price_info (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    version        TEXT NOT NULL,
    source         TEXT,
    default_window TEXT NOT NULL,
    written_at     INTEGER NOT NULL
);

-- USD per 1M tokens. completion_window is lowercase, or '*' for any window of the model.
-- effective_from is 'YYYY-MM-DD' (UTC) or NULL for "always"; the newest entry in force at
-- the row's created_at wins.
CREATE TABLE prices (
    id                INTEGER PRIMARY KEY,
    model             TEXT NOT NULL,
    completion_window TEXT NOT NULL,
    effective_from    TEXT,
    input             REAL NOT NULL,
    cached_input      REAL NOT NULL,
    output            REAL NOT NULL,
    version           TEXT NOT NULL,
    UNIQUE (model, completion_window, effective_from)
);

-- Other spellings of a window → the window whose price applies when the model has no entry
-- under the alias itself.
CREATE TABLE window_aliases (
    alias             TEXT PRIMARY KEY,
    completion_window TEXT NOT NULL
);

-- One row per fetched result with its cost. cost_usd is NULL (never 0) when the row has no
-- usage or no price applies. Cached tokens are part of input_tokens and reasoning tokens part
-- of output_tokens, so nothing is billed twice:
--   cost = ((input − cached)·input + cached·cached_input + output·output) / 1e6
-- with cached capped to [0, input] (a row with cached > input is an anomaly, see flag_*).
CREATE VIEW result_costs AS
SELECT
    q.batch_id, q.custom_id, q.status, q.model, q.created_at,
    q.completion_window, q.window_used, q.window_assumed,
    p.completion_window AS priced_window,
    p.effective_from    AS price_effective_from,
    p.version           AS price_version,
    q.input_tokens, q.input_cached_tokens, q.output_tokens, q.output_reasoning_tokens,
    q.total_tokens, q.error_code,
    p.input AS price_input, p.cached_input AS price_cached_input, p.output AS price_output,
    CASE WHEN q.has_usage AND p.id IS NOT NULL THEN
        ((q.input_tokens - q.billed_cached) * p.input + q.billed_cached * p.cached_input
         + q.output_tokens * p.output) / 1e6 END AS cost_usd,
    CASE WHEN q.has_usage AND p.id IS NOT NULL AND a.id IS NOT NULL THEN
        ((q.input_tokens - q.billed_cached) * a.input + q.billed_cached * a.cached_input
         + q.output_tokens * a.output) / 1e6 END AS asap_cost_usd,
    CASE WHEN q.has_usage AND p.id IS NOT NULL AND a.id IS NOT NULL THEN
        ((q.input_tokens - q.billed_cached) * (a.input - p.input)
         + q.billed_cached * (a.cached_input - p.cached_input)
         + q.output_tokens * (a.output - p.output)) / 1e6 END AS savings_usd,
    q.input_cached_tokens > q.input_tokens AS flag_cached_gt_input,
    q.output_reasoning_tokens > q.output_tokens AS flag_reasoning_gt_output,
    q.total_tokens <> q.input_tokens + q.output_tokens AS flag_total_ne_sum,
    (q.prompt_tokens <> q.input_tokens OR q.completion_tokens <> q.output_tokens) AS flag_alias_mismatch
FROM (
    SELECT w.*,
        (SELECT c.id FROM prices c
          WHERE c.model = w.model
            AND c.completion_window IN (w.window_used, w.window_alias, '*')
            AND COALESCE(c.effective_from, '') <= w.price_day
          ORDER BY CASE c.completion_window WHEN w.window_used THEN 0
                                           WHEN '*' THEN 2 ELSE 1 END,
                   c.effective_from DESC
          LIMIT 1) AS price_id,
        (SELECT c.id FROM prices c
          WHERE c.model = w.model
            AND c.completion_window IN ('asap',
                (SELECT completion_window FROM window_aliases WHERE alias = 'asap'), '*')
            AND COALESCE(c.effective_from, '') <= w.price_day
          ORDER BY CASE c.completion_window WHEN 'asap' THEN 0
                                           WHEN '*' THEN 2 ELSE 1 END,
                   c.effective_from DESC
          LIMIT 1) AS asap_price_id
    FROM (
        SELECT v.*,
            (SELECT completion_window FROM window_aliases WHERE alias = v.window_used) AS window_alias
        FROM (
            SELECT r.*,
                COALESCE(NULLIF(lower(trim(r.completion_window)), ''),
                         (SELECT default_window FROM price_info WHERE id = 1), 'standard') AS window_used,
                (r.completion_window IS NULL OR trim(r.completion_window) = '') AS window_assumed,
                COALESCE(date(r.created_at, 'unixepoch'), '9999-12-31') AS price_day,
                (r.input_tokens IS NOT NULL AND r.output_tokens IS NOT NULL) AS has_usage,
                MAX(0, MIN(COALESCE(r.input_cached_tokens, 0), r.input_tokens)) AS billed_cached
            FROM results r
            WHERE r.fetch_state = 'fetched'
        ) v
    ) w
) q
LEFT JOIN prices p ON p.id = q.price_id
LEFT JOIN prices a ON a.id = q.asap_price_id;

-- Everything the `cost` command reads, in one covering index: a report scans this (about
-- 120 bytes a row) instead of the table, whose rows carry the response bodies, and
-- `--batch` becomes a range seek. It leads with the primary key so that rows written in id
-- order land in order (no random index writes). Measured in BENCHMARKS.md.
CREATE INDEX results_cost ON results (
    batch_id, custom_id, fetch_state, model, completion_window, created_at, status,
    input_tokens, input_cached_tokens, output_tokens, output_reasoning_tokens,
    total_tokens, prompt_tokens, completion_tokens
);
