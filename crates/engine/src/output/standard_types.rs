//! DataFusion reads strings and binaries as `Utf8View` / `BinaryView`, which many Arrow
//! and Parquet readers (older pyarrow, Arrow JS, most JDBC bridges) refuse. Arrow and
//! Parquet answers therefore carry the standard `Utf8` / `Binary` unless a client asks
//! for the view types.

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::compute::{can_cast_types, cast};
use arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::error::EngineResult;

/// The standard form of a type, nested types included. A type arrow cannot cast to its
/// standard form stays as it is.
fn standard_type(t: &DataType) -> DataType {
    let standard = match t {
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView => DataType::Binary,
        DataType::List(f) => DataType::List(standard_field(f)),
        DataType::LargeList(f) => DataType::LargeList(standard_field(f)),
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(standard_field(f), *n),
        DataType::Struct(fields) => DataType::Struct(fields.iter().map(standard_field).collect::<Fields>()),
        DataType::Map(f, sorted) => DataType::Map(standard_field(f), *sorted),
        DataType::Dictionary(k, v) => DataType::Dictionary(k.clone(), Box::new(standard_type(v))),
        other => other.clone(),
    };
    if &standard != t && can_cast_types(t, &standard) { standard } else { t.clone() }
}

/// The field with its type in standard form; name, nullability and metadata (such as the
/// `json` mark) kept.
fn standard_field(f: &FieldRef) -> FieldRef {
    let t = standard_type(f.data_type());
    if &t == f.data_type() { f.clone() } else { Arc::new(Field::clone(f).with_data_type(t)) }
}

pub(crate) fn standard_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new_with_metadata(
        schema.fields().iter().map(standard_field).collect::<Fields>(),
        schema.metadata().clone(),
    ))
}

/// The batch with every column in its standard type (the same batch when none differs).
pub(super) fn standard_batch(batch: &RecordBatch) -> EngineResult<RecordBatch> {
    let schema = standard_schema(&batch.schema());
    if schema.fields() == batch.schema().fields() {
        return Ok(batch.clone());
    }
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| if c.data_type() == f.data_type() { Ok(c.clone()) } else { cast(c, f.data_type()) })
        .collect::<Result<Vec<ArrayRef>, _>>()?;
    Ok(RecordBatch::try_new(schema, columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, BinaryViewArray, Int32Array, ListArray, StringViewArray};
    use arrow::datatypes::Int32Type;

    #[test]
    fn view_columns_become_standard_ones_with_their_metadata() {
        let json = std::collections::HashMap::from([("lakeward.type".to_owned(), "json".to_owned())]);
        let ints = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1)])]);
        let schema = Schema::new(vec![
            Field::new("s", DataType::Utf8View, true).with_metadata(json.clone()),
            Field::new("b", DataType::BinaryView, false),
            Field::new("n", DataType::Int32, true),
            Field::new("l", ints.data_type().clone(), true),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringViewArray::from(vec![Some("a long enough string to be out of line")])),
                Arc::new(BinaryViewArray::from(vec![b"x".as_ref()])),
                Arc::new(Int32Array::from(vec![7])),
                Arc::new(ints),
            ],
        )
        .unwrap();
        let standard = standard_batch(&batch).unwrap();
        let types: Vec<_> = standard.schema().fields().iter().map(|f| f.data_type().clone()).collect();
        assert_eq!(types[..3], [DataType::Utf8, DataType::Binary, DataType::Int32]);
        assert_eq!(&types[3], batch.schema().field(3).data_type());
        assert_eq!(standard.schema().field(0).metadata(), &json);
        assert!(!standard.schema().field(1).is_nullable());
        assert_eq!(standard.column(0).as_any().downcast_ref::<arrow::array::StringArray>().unwrap().value(0), {
            "a long enough string to be out of line"
        });
    }

    #[test]
    fn nested_view_types_are_standardised_too() {
        let inner = Arc::new(Field::new("item", DataType::Utf8View, true));
        assert_eq!(
            standard_type(&DataType::List(inner)),
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
        );
    }
}
