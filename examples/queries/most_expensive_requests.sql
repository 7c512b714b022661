-- The 20 most expensive requests, with what drove their cost (USD rounded to 4 places as
-- `sail-export cost` prints it; ordered by the exact cost).
SELECT batch_id, custom_id, model, window_used AS completion_window,
       input_tokens, input_cached_tokens, output_tokens, output_reasoning_tokens,
       ROUND(cost_usd, 4) AS cost_usd
FROM result_costs
WHERE cost_usd IS NOT NULL
ORDER BY result_costs.cost_usd DESC, batch_id, custom_id
LIMIT 20;
