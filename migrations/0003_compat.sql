-- 0003: `result_costs` again, written so that any SQLite from 3.31 on can run it, with the
-- response time as ISO-8601 UTC text beside the Unix seconds.
--
-- Why: the view of 0002 picked a row's price with a correlated subquery whose ORDER BY
-- named a column of the outer query (`ORDER BY CASE c.completion_window WHEN
-- w.window_used ...`). SQLite releases up to at least 3.51 resolve a SELECT's ORDER BY
-- without looking at outer queries, so every statement that reads the view failed there with
-- "no such column: w.window_used" (the newer release bundled in sail-export accepts it, so
-- its own tests never saw this). Here the preference is computed in the select list of a
-- subquery in FROM, where outer columns resolve on every release, and the ORDER BY names
-- only that subquery's own columns. The choice of price is unchanged: the row's own
-- window, then the alias's window, then '*', and within one the newest effective_from in
-- force.
--
-- Uses nothing newer than SQLite 3.31 (no ->>, unixepoch(), iif(), RIGHT/FULL JOIN).
-- Idempotent: running this file by hand on an export that has not been migrated yet is
-- harmless, the migrator runs it again and gets the same view.

DROP VIEW IF EXISTS result_costs;

-- One row per fetched result with its cost (see 0002 for the formula and the NULL rules).
-- created_at_utc is created_at as 'YYYY-MM-DDTHH:MM:SSZ' (NULL when created_at is).
CREATE VIEW result_costs AS
SELECT
    q.batch_id, q.custom_id, q.status, q.model, q.created_at,
    strftime('%Y-%m-%dT%H:%M:%SZ', q.created_at, 'unixepoch') AS created_at_utc,
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
        -- The outer column w.window_used appears only in the inner select list and WHERE;
        -- the ORDER BY sorts by k's own columns.
        (SELECT k.id FROM (
            SELECT c.id, c.effective_from,
                CASE c.completion_window WHEN w.window_used THEN 0
                                         WHEN '*' THEN 2 ELSE 1 END AS preference
            FROM prices c
            WHERE c.model = w.model
              AND c.completion_window IN (w.window_used, w.window_alias, '*')
              AND COALESCE(c.effective_from, '') <= w.price_day
          ) k
          ORDER BY k.preference, k.effective_from DESC
          LIMIT 1) AS price_id,
        -- No outer column in this ORDER BY: it runs as written in 0002.
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
