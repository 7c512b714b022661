//! What an export cost: the price table (bundled TOML + `--prices`), exact money, the report
//! over a SQLite export's `results` (Parquet is loaded into memory first), and its rendering.

pub mod day;
pub mod export;
pub mod money;
pub mod prices;
pub mod render;
pub mod report;
pub mod scan;
pub mod store;

pub use money::{Rate, Usd};
pub use prices::PriceTable;
pub use report::{Key, Report};
