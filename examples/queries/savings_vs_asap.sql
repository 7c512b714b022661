-- What each model × window cost, against the same tokens at the model's asap list price.
-- Only rows whose model has an asap price are compared (asap_cost_usd is NULL otherwise).
-- Money is rounded to 4 places as `sail-export cost` prints it; the ratio is of the exact sums.
SELECT model,
       window_used                      AS completion_window,
       COUNT(asap_cost_usd)             AS compared_requests,
       ROUND(SUM(CASE WHEN asap_cost_usd IS NOT NULL THEN cost_usd END), 4) AS cost_usd,
       ROUND(SUM(asap_cost_usd), 4)     AS asap_cost_usd,
       ROUND(SUM(savings_usd), 4)       AS savings_usd,
       SUM(savings_usd) / NULLIF(SUM(asap_cost_usd), 0) AS savings_ratio
FROM result_costs
GROUP BY model, window_used
HAVING COUNT(asap_cost_usd) > 0
ORDER BY savings_usd DESC, model, completion_window;
