-- Everything that did not end as a completed response, by cause: the API's error code, the
-- reason a response is incomplete, or the HTTP status / fetch state of ids never fetched.
SELECT fetch_state,
       status,
       COALESCE(error_code, incomplete_reason,
                CASE WHEN http_status IS NOT NULL AND http_status <> 200 THEN 'http_' || http_status END,
                fetch_state)            AS code,
       COUNT(*)                         AS requests,
       MIN(custom_id)                   AS example_custom_id
FROM results
WHERE fetch_state <> 'fetched'
   OR error_code IS NOT NULL
   OR lower(status) IN ('failed', 'cancelled', 'incomplete')
GROUP BY fetch_state, status, code
ORDER BY requests DESC, code;
