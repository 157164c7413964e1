//! Turning JSON rows into one Arrow batch of a table's schema, with every value that does
//! not fit named by row index and column. Nothing is written unless the whole input fits.

use arrow::array::ArrayRef;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use serde_json::Value;

use crate::coerce::ColumnBuilder;
use crate::row_errors::RowErrors;
use crate::types::ColumnType;

/// Builds one batch from JSON objects. Keys must be columns; missing keys are null.
pub fn batch_from_json(schema: &SchemaRef, rows: &[Value]) -> Result<RecordBatch, RowErrors> {
    let mut errors = RowErrors::default();
    for (i, row) in rows.iter().enumerate() {
        match row {
            Value::Object(map) => {
                for key in map.keys() {
                    if schema.field_with_name(key).is_err() {
                        errors.push(i, Some(key), format!("unknown column `{key}`"));
                    }
                }
            }
            _ => errors.push(i, None, "each row must be a JSON object"),
        }
    }
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let name = field.name().as_str();
        let column_type = ColumnType::of_field(field).expect("tables only have supported types");
        let values = rows.iter().map(|r| r.get(name).filter(|v| !v.is_null()));
        let mut col = ColumnBuilder::new(column_type, rows.len());
        for (i, value) in values.enumerate() {
            match value {
                None if !field.is_nullable() => {
                    errors.push(i, Some(name), "must not be null");
                    col.append_null();
                }
                None => col.append_null(),
                Some(v) => {
                    if let Err(message) = col.append_json(v) {
                        errors.push(i, Some(name), message);
                        col.append_null();
                    }
                }
            }
        }
        columns.push(col.finish());
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| {
        let mut errors = RowErrors::default();
        errors.push(0, None, e.to_string());
        errors
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::row_errors::MAX_REPORTED_ERRORS;
    use arrow::datatypes::{Field, Schema};
    use serde_json::json;

    fn schema() -> SchemaRef {
        let t = |name: &str, ty: &str, nullable: bool| {
            let t = ColumnType::parse(ty).unwrap();
            Field::new(name, t.arrow(), nullable).with_metadata(t.metadata())
        };
        Arc::new(Schema::new(vec![
            t("id", "int64", false),
            t("name", "string", true),
            t("price", "decimal(10,2)", true),
            t("born", "date", true),
            t("seen", "timestamp", true),
            t("doc", "json", true),
            t("ok", "boolean", true),
            t("blob", "binary", true),
            t("small", "int32", true),
        ]))
    }

    #[test]
    fn values_are_cast_to_the_column_types() {
        let rows = [
            json!({ "id": 1, "name": "a", "price": "12.30", "born": "2000-02-29", "seen": "2024-01-31T12:00:00+01:00",
                            "doc": { "k": [1, 2] }, "ok": true, "blob": "aGk=", "small": "7" }),
            json!({ "id": "2" }),
        ];
        let batch = batch_from_json(&schema(), &rows).unwrap();
        assert_eq!(batch.num_rows(), 2);
        let formatted = arrow::util::pretty::pretty_format_batches(&[batch]).unwrap().to_string();
        assert!(
            formatted.contains(
                "| 1  | a    | 12.30 | 2000-02-29 | 2024-01-31T11:00:00Z | {\"k\":[1,2]} | true | 6869 | 7     |"
            ),
            "{formatted}"
        );
    }

    #[test]
    fn every_fault_is_named_by_row_and_column() {
        let rows = [
            json!({ "id": 1, "price": "abc" }),
            json!({ "name": "no id", "color": "red" }),
            json!([1, 2]),
            json!({ "id": 3, "born": "31/01/2000", "small": 3_000_000_000_i64, "ok": "yes" }),
        ];
        let errors = batch_from_json(&schema(), &rows).unwrap_err();
        let summary: Vec<_> = errors.errors.iter().map(|e| (e.row, e.column.as_deref(), e.message.as_str())).collect();
        assert_eq!(
            summary,
            [
                (1, Some("color"), "unknown column `color`"),
                (2, None, "each row must be a JSON object"),
                (1, Some("id"), "must not be null"),
                (2, Some("id"), "must not be null"),
                (0, Some("price"), "`abc` is not a decimal(10,2)"),
                (3, Some("born"), "`31/01/2000` is not a date (YYYY-MM-DD)"),
                (3, Some("ok"), "expected a boolean, got a string"),
                (3, Some("small"), "3000000000 is out of range for int32"),
            ]
        );
        assert_eq!(errors.total, 8);
    }

    #[test]
    fn at_most_twenty_faults_are_listed_but_all_are_counted() {
        let rows: Vec<_> = (0..50).map(|_| json!({ "name": "x" })).collect();
        let errors = batch_from_json(&schema(), &rows).unwrap_err();
        assert_eq!((errors.errors.len(), errors.total), (MAX_REPORTED_ERRORS, 50));
    }
}
