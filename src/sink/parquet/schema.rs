//! The Arrow side of `Row::COLUMNS`: the schema built from the column list, rows → record
//! batches, and typed, validated read access to the columns of a batch read back.

use std::sync::{Arc, LazyLock};

use arrow_array::builder::{
    Float64Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::row::{Cell, Kind, Row};

/// The timezone of every timestamp column.
pub(crate) const TZ: &str = "UTC";

/// The Arrow type a column kind is stored as.
pub(crate) fn data_type(kind: Kind) -> DataType {
    match kind {
        Kind::Text => DataType::Utf8,
        Kind::Int => DataType::Int64,
        Kind::Real => DataType::Float64,
        // Parquet has no seconds unit: seconds would be stored as plain INT64 and other
        // readers would not see a timestamp. Milliseconds are exact for our seconds.
        Kind::Time => DataType::Timestamp(TimeUnit::Millisecond, Some(TZ.into())),
    }
}

/// The Arrow schema of an export: `Row::COLUMNS`, in order, with their nullability.
pub fn schema() -> SchemaRef {
    // Built once: every record batch the sink makes shares it.
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        let fields: Vec<Field> = Row::COLUMNS
            .iter()
            .map(|c| Field::new(c.name, data_type(c.kind), c.nullable))
            .collect();
        Arc::new(Schema::new(fields))
    });
    Arc::clone(&SCHEMA)
}

/// The schema of a file in a dataset: the export schema without `batch_id`, which the
/// file's folder (`batch_id=…`) names, as Hive partitioning has it.
pub fn dataset_file_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        let all = schema();
        Arc::new(Schema::new(all.fields()[1..].to_vec()))
    });
    Arc::clone(&SCHEMA)
}

/// A batch of the export schema without its `batch_id` column, for a dataset file.
pub(crate) fn without_batch_id(batch: &RecordBatch) -> anyhow::Result<RecordBatch> {
    Ok(RecordBatch::try_new(
        dataset_file_schema(),
        batch.columns()[1..].to_vec(),
    )?)
}

/// The schema of a dataset file with `batch_id` put back in front (for [`project`] and
/// [`check_exact`]).
pub(crate) fn with_batch_id_field(file: &Schema) -> Schema {
    let mut fields = vec![Arc::new(Field::new("batch_id", DataType::Utf8, false))];
    fields.extend(file.fields().iter().cloned());
    Schema::new(fields)
}

/// A batch read from a dataset file with `batch_id` (the folder's value) put back in
/// front: the export schema's column order.
pub(crate) fn with_batch_id(batch: RecordBatch, batch_id: &str) -> anyhow::Result<RecordBatch> {
    let ids: ArrayRef = Arc::new(arrow_array::StringArray::from(vec![
        batch_id;
        batch.num_rows()
    ]));
    let mut columns = vec![ids];
    columns.extend(batch.columns().iter().cloned());
    let schema = Arc::new(with_batch_id_field(batch.schema().as_ref()));
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// Columns added to `Row::COLUMNS` after the first release, in order; they close the list.
/// A file written before a column existed lacks it (and those after it) and reads as NULL
/// there: resuming into it, `load` and `cost` work as on a new file.
pub(crate) const ADDED_LATER: &[&str] = &["dropped_fields", "batch_label"];

/// How many columns the oldest export schema has.
fn first_len() -> usize {
    Row::COLUMNS.len() - ADDED_LATER.len()
}

/// Index of a column in `Row::COLUMNS`.
pub(crate) fn index_of(name: &str) -> usize {
    Row::COLUMNS
        .iter()
        .position(|c| c.name == name)
        .expect("a column of Row::COLUMNS")
}

/// One builder per column kind.
enum Builder {
    Text(StringBuilder),
    Int(Int64Builder),
    Real(Float64Builder),
    Time(TimestampMillisecondBuilder),
}

impl Builder {
    /// A builder with room for `rows` values and, for text, `bytes` bytes of them.
    fn new(kind: Kind, rows: usize, bytes: usize) -> Builder {
        match kind {
            Kind::Text => Builder::Text(StringBuilder::with_capacity(rows, bytes)),
            Kind::Int => Builder::Int(Int64Builder::with_capacity(rows)),
            Kind::Real => Builder::Real(Float64Builder::with_capacity(rows)),
            Kind::Time => Builder::Time(TimestampMillisecondBuilder::with_capacity(rows)),
        }
    }

    fn push(&mut self, cell: Cell<'_>) {
        match (self, cell) {
            (Builder::Text(b), Cell::Text(s)) => b.append_value(s),
            (Builder::Int(b), Cell::Int(v)) => b.append_value(v),
            (Builder::Time(b), Cell::Int(v)) => b.append_value(v.saturating_mul(1000)),
            (Builder::Real(b), Cell::Real(v)) => b.append_value(v),
            (Builder::Text(b), _) => b.append_null(),
            (Builder::Int(b), _) => b.append_null(),
            (Builder::Time(b), _) => b.append_null(),
            (Builder::Real(b), _) => b.append_null(),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Builder::Text(mut b) => Arc::new(b.finish()),
            Builder::Int(mut b) => Arc::new(b.finish()),
            Builder::Real(mut b) => Arc::new(b.finish()),
            Builder::Time(mut b) => Arc::new(b.finish().with_timezone(TZ)),
        }
    }
}

/// The rows at `order` (indices into `rows`) as one record batch of the export schema.
pub fn to_batch(rows: &[Row], order: &[usize]) -> RecordBatch {
    // Text columns are sized exactly first: growing them by doubling would copy the text
    // (most of a batch's bytes) again.
    let mut bytes = [0usize; Row::COLUMNS.len()];
    for &i in order {
        for (n, cell) in bytes.iter_mut().zip(rows[i].cells()) {
            if let Cell::Text(s) = cell {
                *n += s.len();
            }
        }
    }
    let mut builders: Vec<Builder> = Row::COLUMNS
        .iter()
        .zip(bytes)
        .map(|(c, n)| Builder::new(c.kind, order.len(), n))
        .collect();
    for &i in order {
        for (b, cell) in builders.iter_mut().zip(rows[i].cells()) {
            b.push(cell);
        }
    }
    let columns = builders.into_iter().map(Builder::finish).collect();
    RecordBatch::try_new(schema(), columns).expect("builders follow the schema")
}

/// Typed read access to one column of a batch read back.
#[derive(Clone, Copy)]
pub enum Column<'a> {
    /// Utf8.
    Text(&'a arrow_array::StringArray),
    /// LargeUtf8.
    LargeText(&'a arrow_array::LargeStringArray),
    /// Int64.
    Int(&'a arrow_array::Int64Array),
    /// Float64.
    Real(&'a arrow_array::Float64Array),
    /// A timestamp of any unit: the array (for nulls), its raw values, and the divisor
    /// that brings them to seconds.
    Time(&'a dyn Array, &'a [i64], i64),
    /// A column the file predates (one added in a later release): NULL in every row.
    Absent,
}

impl<'a> Column<'a> {
    /// Accepts `array` as a column of `kind`, or says what type it has instead.
    pub(crate) fn of(kind: Kind, array: &'a dyn Array) -> Result<Column<'a>, String> {
        let ty = array.data_type();
        let col = match (kind, ty) {
            (Kind::Text, DataType::Utf8) => Column::Text(array.as_string::<i32>()),
            (Kind::Text, DataType::LargeUtf8) => Column::LargeText(array.as_string::<i64>()),
            (Kind::Int, DataType::Int64) => Column::Int(array.as_primitive::<Int64Type>()),
            (Kind::Real, DataType::Float64) => Column::Real(array.as_primitive::<Float64Type>()),
            (Kind::Time, DataType::Timestamp(unit, _)) => {
                let (values, div) = match unit {
                    TimeUnit::Second => (as_i64::<TimestampSecondType>(array), 1),
                    TimeUnit::Millisecond => (as_i64::<TimestampMillisecondType>(array), 1_000),
                    TimeUnit::Microsecond => (as_i64::<TimestampMicrosecondType>(array), 1_000_000),
                    TimeUnit::Nanosecond => {
                        (as_i64::<TimestampNanosecondType>(array), 1_000_000_000)
                    }
                };
                Column::Time(array, values, div)
            }
            _ => return Err(format!("has type {ty}, expected {}", data_type(kind))),
        };
        Ok(col)
    }

    /// The cell at row `i`.
    pub(crate) fn cell(&self, i: usize) -> Cell<'a> {
        match *self {
            Column::Text(a) if a.is_valid(i) => Cell::Text(a.value(i)),
            Column::LargeText(a) if a.is_valid(i) => Cell::Text(a.value(i)),
            Column::Int(a) if a.is_valid(i) => Cell::Int(a.value(i)),
            Column::Real(a) if a.is_valid(i) => Cell::Real(a.value(i)),
            Column::Time(a, v, div) if a.is_valid(i) => Cell::Int(v[i].div_euclid(div)),
            _ => Cell::Null,
        }
    }
}

/// The raw i64 values of a timestamp array of unit `T`.
fn as_i64<T: arrow_array::types::ArrowTimestampType>(array: &dyn Array) -> &[i64] {
    array.as_primitive::<T>().values()
}

/// Whether a column of `kind` can be read from an Arrow field of type `ty`.
fn accepts(kind: Kind, ty: &DataType) -> bool {
    matches!(
        (kind, ty),
        (Kind::Text, DataType::Utf8 | DataType::LargeUtf8)
            | (Kind::Int, DataType::Int64)
            | (Kind::Real, DataType::Float64)
            | (Kind::Time, DataType::Timestamp(_, _))
    )
}

/// For each of `Row::COLUMNS`, its index in a file's `schema` (`None` for a column added
/// later that the file predates); or what is wrong, naming the column (missing, or of
/// another type).
pub(crate) fn project(schema: &Schema) -> Result<Vec<Option<usize>>, String> {
    Row::COLUMNS
        .iter()
        .map(|c| {
            let Some((i, field)) = schema.column_with_name(c.name) else {
                if ADDED_LATER.contains(&c.name) {
                    return Ok(None);
                }
                return Err(format!("column '{}' is missing", c.name));
            };
            if !accepts(c.kind, field.data_type()) {
                return Err(format!(
                    "column '{}' has type {}, expected {}",
                    c.name,
                    field.data_type(),
                    data_type(c.kind)
                ));
            }
            Ok(Some(i))
        })
        .collect()
}

/// Whether a file's `schema` is exactly the export schema (names, order, types) of this
/// release or of an earlier one (without some of [`ADDED_LATER`]), as every file sail-export
/// writes is; what differs otherwise.
pub(crate) fn check_exact(schema: &Schema) -> Result<(), String> {
    project(schema)?;
    let ours = self::schema();
    let n = schema.fields().len();
    if n < first_len() || n > ours.fields().len() {
        return Err(format!(
            "it has {n} columns, expected {}",
            ours.fields().len()
        ));
    }
    for (f, o) in schema.fields().iter().zip(ours.fields()) {
        if f.name() != o.name() || f.data_type() != o.data_type() {
            return Err(format!(
                "column '{}' ({}) is where '{}' ({}) belongs",
                f.name(),
                f.data_type(),
                o.name(),
                o.data_type()
            ));
        }
    }
    Ok(())
}

/// A batch of a file that passed [`check_exact`], with the columns the file predates added
/// as NULL: a batch of the export schema of this release.
pub(crate) fn upgrade(batch: RecordBatch) -> RecordBatch {
    let n = batch.num_columns();
    if n >= Row::COLUMNS.len() {
        return batch;
    }
    let rows = batch.num_rows();
    let mut columns = batch.columns().to_vec();
    columns.extend(
        Row::COLUMNS[n..]
            .iter()
            .map(|c| arrow_array::new_null_array(&data_type(c.kind), rows)),
    );
    // Only the columns added later are appended, all nullable: the schema holds.
    RecordBatch::try_new(schema(), columns).unwrap_or(batch)
}

/// Typed access to the export columns of one batch read back, in `Row::COLUMNS` order.
pub(crate) struct View<'a> {
    /// One accessor per column of `Row::COLUMNS`.
    pub cols: Vec<Column<'a>>,
}

impl<'a> View<'a> {
    /// Views `batch` through `proj` (from [`project`]); names the first column whose type
    /// is wrong or that holds a NULL where none is allowed.
    pub(crate) fn new(batch: &'a RecordBatch, proj: &[Option<usize>]) -> Result<View<'a>, String> {
        let mut cols = Vec::with_capacity(proj.len());
        for (c, &i) in Row::COLUMNS.iter().zip(proj) {
            let Some(i) = i else {
                cols.push(Column::Absent);
                continue;
            };
            let array = batch.column(i).as_ref();
            let col = Column::of(c.kind, array).map_err(|e| format!("column '{}' {e}", c.name))?;
            if !c.nullable && array.null_count() > 0 {
                return Err(format!("column '{}' holds NULL, which it may not", c.name));
            }
            cols.push(col);
        }
        Ok(View { cols })
    }

    /// The cells of row `i`, in `Row::COLUMNS` order.
    pub(crate) fn cells(&self, i: usize) -> [Cell<'a>; Row::COLUMNS.len()] {
        std::array::from_fn(|c| self.cols[c].cell(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::FetchState;

    #[test]
    fn the_schema_is_the_column_list() {
        let s = schema();
        assert_eq!(s.fields().len(), Row::COLUMNS.len());
        for (f, c) in s.fields().iter().zip(Row::COLUMNS) {
            assert_eq!(f.name(), c.name);
            assert_eq!(f.is_nullable(), c.nullable, "{}", c.name);
            assert_eq!(f.data_type(), &data_type(c.kind), "{}", c.name);
        }
        assert_eq!(
            project(&s).unwrap(),
            (0..Row::COLUMNS.len()).map(Some).collect::<Vec<_>>()
        );
        check_exact(&s).unwrap();
    }

    #[test]
    fn cells_survive_a_batch_round_trip() {
        let mut r = Row::bare("b", "c", FetchState::Fetched);
        r.created_at = Some(-5);
        r.temperature = Some(0.25);
        r.output_text = Some("é".into());
        let rows = [r.clone(), Row::bare("b", "d", FetchState::Error)];
        let batch = to_batch(&rows, &[1, 0]);
        let view = View::new(&batch, &project(&batch.schema()).unwrap()).unwrap();
        assert_eq!(view.cells(1), r.cells());
        assert_eq!(view.cells(0), rows[1].cells());
    }

    #[test]
    fn a_missing_or_mistyped_column_is_named() {
        let mut fields: Vec<Field> = schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields[9] = Field::new("model", DataType::Int64, true);
        let err = project(&Schema::new(fields.clone())).unwrap_err();
        assert!(err.contains("'model' has type Int64"), "{err}");
        fields.remove(9);
        let err = project(&Schema::new(fields)).unwrap_err();
        assert_eq!(err, "column 'model' is missing");
    }
}
