-- What each model × window cost, against the same tokens at the model's asap list price.
-- Only rows whose model has an asap price are compared (asap_cost_usd is NULL otherwise).
SELECT model,
       window_used                      AS completion_window,
       COUNT(asap_cost_usd)             AS compared_requests,
       SUM(CASE WHEN asap_cost_usd IS NOT NULL THEN cost_usd END) AS cost_usd,
       SUM(asap_cost_usd)               AS asap_cost_usd,
       SUM(savings_usd)                 AS savings_usd,
       SUM(savings_usd) / NULLIF(SUM(asap_cost_usd), 0) AS savings_ratio
FROM result_costs
GROUP BY model, window_used
HAVING COUNT(asap_cost_usd) > 0
ORDER BY savings_usd DESC, model, completion_window;
