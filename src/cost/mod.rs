//! What an export cost: one scan of its `results` folded into buckets, each priced exactly
//! against the price table (pure), and the report rendered as a table, JSON, CSV, Markdown
//! or a one-file HTML page of charts.

pub(crate) mod charts;
pub(crate) mod html;
pub(crate) mod metadata;
pub(crate) mod render;
pub mod report;
pub(crate) mod rows;
pub mod scan;
pub(crate) mod scan_parquet;
pub(crate) mod svg;
pub(crate) mod table;
pub(crate) mod top;

pub use render::Format;
pub use report::{Key, Report};
pub use table::Width;
