-- 0004: `dropped_fields`, the integer fields of a response whose value was not exactly an
-- integer in i64 range (a fraction, out of range, a boolean, an array, an object or any other
-- string): their columns hold NULL, never a rounded or clamped number, and this column names
-- them as dotted paths separated by commas (`usage.input_tokens,max_output_tokens`). NULL
-- when nothing was dropped, and for every row written before this migration.
ALTER TABLE results ADD COLUMN dropped_fields TEXT;

-- The cost report counts such rows, so the covering index of 0002 carries the column too
-- (NULL in almost every row: one byte each).
DROP INDEX IF EXISTS results_cost;
CREATE INDEX results_cost ON results (
    batch_id, custom_id, fetch_state, model, completion_window, created_at, status,
    input_tokens, input_cached_tokens, output_tokens, output_reasoning_tokens,
    total_tokens, prompt_tokens, completion_tokens, dropped_fields
);
