//! Reads chosen columns of a local Parquet file in place, a batch at a time: only those
//! columns' pages are read, so a report does not touch the response bodies beside them.

use std::fs::File;
use std::path::Path;

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

use crate::error::UsageError;

/// Rows per batch: large enough that per-batch work vanishes, small enough (a few MB of
/// the chosen columns) that memory stays flat.
pub(crate) const STREAM_BATCH_ROWS: usize = 8192;

/// Streams the root columns `choose` picks from the file's Arrow schema to `each`.
pub(crate) fn stream_columns(
    path: &Path,
    choose: &(dyn Fn(&arrow_schema::Schema) -> anyhow::Result<Vec<usize>> + Sync),
    each: &mut (dyn FnMut(RecordBatch) -> anyhow::Result<()> + Send),
) -> anyhow::Result<()> {
    let shown = path.display();
    let file =
        File::open(path).map_err(|e| UsageError::new(format!("cannot open '{shown}': {e}")))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| UsageError::new(format!("'{shown}' is not a Parquet file ({e})")))?;
    let roots = choose(builder.schema())?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(STREAM_BATCH_ROWS)
        .build()
        .map_err(|e| UsageError::new(format!("cannot read '{shown}': {e}")))?;
    for batch in reader {
        let batch = batch
            .map_err(|e| UsageError::new(format!("'{shown}' cannot be read as Parquet: {e}")))?;
        each(batch)?;
    }
    Ok(())
}
