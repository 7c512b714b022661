-- Spend per UTC day of the responses' created_at (USD, rounded to 4 places as `cost` prints it).
SELECT date(created_at, 'unixepoch')   AS day,
       COUNT(*)                         AS requests,
       ROUND(SUM(cost_usd), 4)          AS cost_usd,
       SUM(cost_usd IS NULL)            AS unpriced_requests
FROM result_costs
GROUP BY day
ORDER BY day;
