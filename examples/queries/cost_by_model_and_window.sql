-- Cost by model and completion window, most expensive first.
-- window_used is the row's own window (lowercased), or the default one when it had none;
-- a group whose rows are all unpriced shows cost_usd NULL, never 0. Money is rounded to 4
-- places, as `sail-export cost` prints it (a sum of floats would print 9.20123907500001).
SELECT model,
       window_used                      AS completion_window,
       COUNT(*)                         AS requests,
       ROUND(SUM(cost_usd), 4)          AS cost_usd,
       SUM(cost_usd IS NULL)            AS unpriced_requests,
       SUM(window_assumed)              AS assumed_window_requests
FROM result_costs
GROUP BY model, window_used
ORDER BY cost_usd DESC NULLS LAST, model, completion_window;
