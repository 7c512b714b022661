//! The Parquet sink: the same columns as SQLite, written crash-safely.
