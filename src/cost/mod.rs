//! What an export cost: the price table and the report, pure over rows / SQL.
