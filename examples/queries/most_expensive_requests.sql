-- The 20 most expensive requests, with what drove their cost.
SELECT batch_id, custom_id, model, window_used AS completion_window,
       input_tokens, input_cached_tokens, output_tokens, output_reasoning_tokens,
       cost_usd
FROM result_costs
WHERE cost_usd IS NOT NULL
ORDER BY cost_usd DESC, batch_id, custom_id
LIMIT 20;
