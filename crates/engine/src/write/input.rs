//! Request bodies to Arrow batches of the table's schema: JSON arrays, NDJSON, CSV with a
//! header, and Arrow IPC streams. Columns are matched by name; missing ones are null.

use std::io::Cursor;
use std::sync::Arc;

use arrow::array::{ArrayRef, new_null_array};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use serde_json::Value;

use super::rows::batch_from_json;
use crate::error::{EngineError, EngineResult, Input};
use crate::row_errors::RowErrors;
use crate::rules::Rules;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Json,
    Ndjson,
    Csv,
    ArrowStream,
}

impl InputFormat {
    pub fn from_content_type(content_type: &str) -> Option<InputFormat> {
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        Some(match essence.as_str() {
            "application/json" => InputFormat::Json,
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" => InputFormat::Ndjson,
            "text/csv" => InputFormat::Csv,
            "application/vnd.apache.arrow.stream" => InputFormat::ArrowStream,
            _ => return None,
        })
    }
}

pub const ACCEPTED_CONTENT_TYPES: &str =
    "application/json, application/x-ndjson, text/csv, application/vnd.apache.arrow.stream";

/// Parses a whole body into batches of exactly `schema`, every row checked against the
/// table's `rules` (NOT NULL, domains, CHECK constraints).
pub(crate) fn parse(
    format: InputFormat,
    body: &[u8],
    schema: &SchemaRef,
    rules: &Rules,
) -> EngineResult<Vec<RecordBatch>> {
    let batches = match format {
        InputFormat::Json => {
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| EngineError::invalid(Input::Rows, format!("Malformed JSON: {e}")))?;
            let rows = match value {
                Value::Array(rows) => rows,
                object @ Value::Object(_) => vec![object],
                _ => return Err(EngineError::invalid(Input::Rows, "expected a JSON array of row objects")),
            };
            vec![batch_from_json(schema, &rows).map_err(EngineError::Rows)?]
        }
        InputFormat::Ndjson => {
            let mut rows = Vec::new();
            let mut errors = RowErrors::default();
            for (i, line) in body.split(|b| *b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)).enumerate()
            {
                match serde_json::from_slice::<Value>(line) {
                    Ok(v) => rows.push(v),
                    Err(e) => {
                        errors.push(i, None, format!("malformed JSON: {e}"));
                        rows.push(Value::Null);
                    }
                }
            }
            if !errors.is_empty() {
                return Err(EngineError::Rows(errors));
            }
            vec![batch_from_json(schema, &rows).map_err(EngineError::Rows)?]
        }
        InputFormat::Csv => parse_csv(body, schema)?,
        InputFormat::ArrowStream => parse_arrow(body, schema)?,
    };
    let batches: Vec<RecordBatch> = batches.into_iter().filter(|b| b.num_rows() > 0).collect();
    let mut offset = 0;
    let mut errors = RowErrors::default();
    for batch in &batches {
        rules.check(batch, offset, &mut errors)?;
        offset += batch.num_rows();
    }
    if !errors.is_empty() {
        return Err(EngineError::Rows(errors));
    }
    batches.into_iter().map(|b| Ok(RecordBatch::try_new(schema.clone(), b.columns().to_vec())?)).collect()
}

fn parse_csv(body: &[u8], schema: &SchemaRef) -> EngineResult<Vec<RecordBatch>> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let header = read_header(body)?;
    let reader = arrow::csv::ReaderBuilder::new(csv_schema(&header, schema)?)
        .with_header(true)
        .with_batch_size(64 * 1024)
        .build(Cursor::new(body))
        .map_err(|e| EngineError::invalid(Input::Rows, e.to_string()))?;
    let mut batches = Vec::new();
    let mut errors = RowErrors::default();
    let mut offset = 0;
    for batch in reader {
        let batch = batch.map_err(|e| csv_error(&e.to_string(), &header, true))?;
        batches.push(typed_csv_batch(&batch, schema, offset, &mut errors)?);
        offset += batch.num_rows();
    }
    if !errors.is_empty() {
        return Err(EngineError::Rows(errors));
    }
    Ok(batches)
}

/// The schema a CSV with `header` is read with: every named column as text (typed by
/// [`typed_csv_batch`]); an unknown name is an error.
pub(crate) fn csv_schema(header: &[String], schema: &SchemaRef) -> EngineResult<SchemaRef> {
    let mut errors = RowErrors::default();
    let mut fields = Vec::with_capacity(header.len());
    for name in header {
        match schema.field_with_name(name) {
            Ok(f) => fields.push(Field::new(f.name(), arrow::datatypes::DataType::Utf8, true)),
            Err(_) => errors.push(0, Some(name), format!("unknown column `{name}` in the CSV header")),
        }
    }
    if !errors.is_empty() {
        return Err(EngineError::Rows(errors));
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// A batch of CSV text cast to the table's columns (vectorized). Every value that does not
/// convert is reported with its row, column and text, as the JSON path words it; the batch
/// returned has nulls there (it is never written when there are errors).
pub(crate) fn typed_csv_batch(
    text: &RecordBatch,
    schema: &SchemaRef,
    offset: usize,
    errors: &mut RowErrors,
) -> EngineResult<RecordBatch> {
    use arrow::array::{Array, AsArray};
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(text.num_columns());
    for (field, column) in text.schema().fields().iter().zip(text.columns()) {
        let target = schema.field_with_name(field.name())?;
        let typed = arrow::compute::cast(column, target.data_type())?;
        if typed.null_count() > column.null_count() {
            let strings = column.as_string::<i32>();
            for row in (0..typed.len()).filter(|r| typed.is_null(*r) && column.is_valid(*r)) {
                let value = strings.value(row);
                let message = crate::coerce::scalar_from_text(target, value)
                    .err()
                    .unwrap_or_else(|| format!("`{value}` is not a {}", target.data_type()));
                errors.push(offset + row, Some(field.name()), message);
            }
        }
        columns.push(typed);
    }
    let fields: Vec<Field> = text
        .schema()
        .fields()
        .iter()
        .map(|f| Field::new(f.name(), schema.field_with_name(f.name()).expect("checked").data_type().clone(), true))
        .collect();
    let typed = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
    conform(&typed, schema)
}

/// The first CSV record's field names.
fn read_header(body: &[u8]) -> EngineResult<Vec<String>> {
    let (schema, _) = arrow::csv::reader::Format::default()
        .with_header(true)
        .infer_schema(Cursor::new(body), Some(0))
        .map_err(|e| EngineError::invalid(Input::Rows, format!("cannot read the CSV header: {e}")))?;
    if schema.fields().is_empty() {
        return Err(EngineError::invalid(Input::Rows, "the CSV input is empty; expected a header row"));
    }
    Ok(schema.fields().iter().map(|f| f.name().trim().to_owned()).collect())
}

/// A CSV read error as a fault of the data row it is in, with the column when known.
/// arrow-csv numbers differently by kind: structure errors (ragged rows, unterminated
/// quotes, invalid UTF-8) say "for line N", N counting records from 1 with the header;
/// value errors say "for column C at line N", N counting data records (from 1 after a
/// header, from 0 without one). Rows count data records from 0.
pub(crate) fn csv_error(message: &str, header: &[String], has_header: bool) -> EngineError {
    let number_after = |key: &str| -> Option<usize> {
        let rest = &message[message.find(key)? + key.len()..];
        rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    };
    let header_lines = usize::from(has_header);
    let row = match (number_after("for line "), number_after("at line ")) {
        (Some(record), _) => record.saturating_sub(1 + header_lines),
        (None, Some(line)) => line.saturating_sub(header_lines),
        (None, None) => 0,
    };
    let column = number_after("for column ")
        .or_else(|| number_after("and field ").map(|f| f.saturating_sub(1)))
        .and_then(|i| header.get(i))
        .cloned();
    let text = message
        .split(". Row data")
        .next()
        .unwrap_or(message)
        .trim_start_matches("Parser error: ")
        .trim_start_matches("Csv error: ")
        .to_owned();
    let mut errors = RowErrors::default();
    errors.push(row, column.as_deref(), text);
    EngineError::Rows(errors)
}

fn parse_arrow(body: &[u8], schema: &SchemaRef) -> EngineResult<Vec<RecordBatch>> {
    let reader = arrow::ipc::reader::StreamReader::try_new(Cursor::new(body), None)
        .map_err(|e| EngineError::invalid(Input::Rows, format!("not an Arrow IPC stream: {e}")))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| EngineError::invalid(Input::Rows, format!("not an Arrow IPC stream: {e}")))?;
        let mut errors = RowErrors::default();
        for field in batch.schema().fields() {
            if schema.field_with_name(field.name()).is_err() {
                errors.push(0, Some(field.name()), format!("unknown column `{}`", field.name()));
            }
        }
        if !errors.is_empty() {
            return Err(EngineError::Rows(errors));
        }
        out.push(conform(&batch, schema)?);
    }
    Ok(out)
}

fn relaxed_schema(schema: &SchemaRef) -> SchemaRef {
    Arc::new(Schema::new_with_metadata(
        schema.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect::<Vec<_>>(),
        schema.metadata().clone(),
    ))
}

/// Reorders, casts and fills `batch` to the columns of `schema` (missing columns are
/// null), with every column nullable until the caller has checked NOT NULL.
pub fn conform(batch: &RecordBatch, schema: &SchemaRef) -> EngineResult<RecordBatch> {
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let column = match batch.column_by_name(field.name()) {
            None => new_null_array(field.data_type(), batch.num_rows()),
            Some(c) if c.data_type() == field.data_type() => c.clone(),
            Some(c) => {
                let options = arrow::compute::CastOptions { safe: false, ..Default::default() };
                arrow::compute::cast_with_options(c, field.data_type(), &options).map_err(|e| {
                    let mut errors = RowErrors::default();
                    errors.push(
                        0,
                        Some(field.name()),
                        format!("cannot convert {} to {}: {e}", c.data_type(), field.data_type()),
                    );
                    EngineError::Rows(errors)
                })?
            }
        };
        columns.push(column);
    }
    // NOT NULL is checked row by row by `parse`, so the batch carries a relaxed schema
    // until then.
    Ok(RecordBatch::try_new(relaxed_schema(schema), columns)?)
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::DataType;

    use super::*;

    fn fault(body: &[u8]) -> (usize, Option<String>, String) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ]));
        match parse_csv(body, &schema) {
            Err(EngineError::Rows(rows)) => {
                let e = rows.errors.into_iter().next().expect("one fault");
                (e.row, e.column, e.message)
            }
            other => panic!("expected a row fault, got {other:?}"),
        }
    }

    #[test]
    fn csv_structure_errors_name_their_data_row() {
        assert_eq!(
            fault(b"id,name\n1,a\n2,b\n3,c,extra\n"),
            (2, None, "incorrect number of fields for line 4, expected 2 got 3".into())
        );
        assert_eq!(
            fault(b"id,name\n1,a\n2\n"),
            (1, None, "incorrect number of fields for line 3, expected 2 got 1".into())
        );
        // An unterminated quote runs on to the next quote, and the record it opened comes
        // out ragged.
        assert_eq!(
            fault(b"id,name\n1,a\n2,\"b\n3,c\"d,e\n"),
            (1, None, "incorrect number of fields for line 3, expected 2 got 3".into())
        );
        assert_eq!(
            fault(b"id,name\n1,a\n2,b\xff\n"),
            (1, Some("name".into()), "Encountered invalid UTF-8 data for line 3 and field 2".into())
        );
    }
}
