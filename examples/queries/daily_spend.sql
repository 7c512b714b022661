-- Spend per UTC day of the responses' created_at.
SELECT date(created_at, 'unixepoch')   AS day,
       COUNT(*)                         AS requests,
       SUM(cost_usd)                    AS cost_usd,
       SUM(cost_usd IS NULL)            AS unpriced_requests
FROM result_costs
GROUP BY day
ORDER BY day;
