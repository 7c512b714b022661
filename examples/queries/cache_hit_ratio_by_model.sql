-- Share of input tokens served from the cache, per model (cached tokens are part of input).
SELECT model,
       SUM(input_tokens)                                        AS input_tokens,
       SUM(input_cached_tokens)                                 AS input_cached_tokens,
       1.0 * SUM(input_cached_tokens) / NULLIF(SUM(input_tokens), 0) AS cache_hit_ratio
FROM result_costs
GROUP BY model
ORDER BY model;
