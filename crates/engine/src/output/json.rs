//! Batches as JSON text: one object per row, keys in column order, written by arrow-json
//! (so decimals keep their scale, `3.00`), with two forms of our own: binary columns as
//! base64 text, and `json` columns (stored as text) as the JSON values they hold; and,
//! for JSON that is parsed again into values, decimals as text.

use std::sync::Arc;

use arrow::array::{Array, ArrayAccessor, ArrayRef, AsArray, StringArray};
use arrow::datatypes::{DataType, Field, FieldRef, Schema};
use arrow::error::ArrowError;
use arrow::json::writer::{Encoder, EncoderFactory, EncoderOptions, LineDelimited, NullableEncoder};
use arrow::record_batch::RecordBatch;
use serde_json::value::RawValue;

use crate::error::{EngineError, EngineResult};
use crate::types::ColumnType;

/// Binary columns as base64 text, the form JSON and CSV bodies are written in (and the
/// form inserts accept).
pub(super) fn binary_as_base64(batch: &RecordBatch) -> EngineResult<RecordBatch> {
    use base64::Engine as _;
    as_text(batch, |column| {
        let bytes: Vec<Option<&[u8]>> = match column.data_type() {
            DataType::Binary => column.as_binary::<i32>().iter().collect(),
            DataType::LargeBinary => column.as_binary::<i64>().iter().collect(),
            DataType::BinaryView => column.as_binary_view().iter().collect(),
            _ => return Ok(None),
        };
        let text: StringArray =
            bytes.into_iter().map(|v| v.map(|b| base64::engine::general_purpose::STANDARD.encode(b))).collect();
        Ok(Some(Arc::new(text) as ArrayRef))
    })
}

/// Decimals as text holding their exact digits (`"3.00"`), for JSON that is parsed again:
/// a `serde_json` number is a float and would round them.
pub(super) fn decimals_as_text(batch: &RecordBatch) -> EngineResult<RecordBatch> {
    as_text(batch, |column| match column.data_type() {
        DataType::Decimal128(..) | DataType::Decimal256(..) => Ok(Some(arrow::compute::cast(column, &DataType::Utf8)?)),
        _ => Ok(None),
    })
}

/// `batch` with each column that `text` turns into a `Utf8` array replaced by it (and its
/// field retyped); the batch itself when it turns none.
fn as_text(
    batch: &RecordBatch,
    text: impl Fn(&ArrayRef) -> EngineResult<Option<ArrayRef>>,
) -> EngineResult<RecordBatch> {
    let mut changed = false;
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        match text(column)? {
            Some(converted) => {
                changed = true;
                fields.push(Field::new(field.name(), DataType::Utf8, field.is_nullable()));
                columns.push(converted);
            }
            None => {
                fields.push(field.as_ref().clone());
                columns.push(column.clone());
            }
        }
    }
    if !changed {
        return Ok(batch.clone());
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

/// One JSON object per row, each on its own line.
pub(super) fn json_lines(batch: &RecordBatch) -> EngineResult<Vec<u8>> {
    let batch = binary_as_base64(batch)?;
    let mut out = Vec::new();
    let mut writer = arrow::json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .with_encoder_factory(Arc::new(JsonDocuments))
        .build::<_, LineDelimited>(&mut out);
    writer.write(&batch)?;
    writer.finish()?;
    Ok(out)
}

/// The rows exactly as a read writes them in JSON (for `Prefer: return=representation`,
/// which must answer the same bytes as a read of those rows).
pub(crate) fn json_rows(batches: &[RecordBatch]) -> EngineResult<Vec<Box<RawValue>>> {
    let mut rows = Vec::new();
    for batch in batches {
        let lines = json_lines(batch)?;
        for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let text = std::str::from_utf8(line).map_err(|e| EngineError::internal(e.to_string()))?;
            rows.push(RawValue::from_string(text.to_owned()).map_err(|e| EngineError::internal(e.to_string()))?);
        }
    }
    Ok(rows)
}

/// Writes the text of `json` columns as the JSON value it holds instead of as a string.
#[derive(Debug)]
struct JsonDocuments;

impl EncoderFactory for JsonDocuments {
    fn make_default_encoder<'a>(
        &self,
        field: &'a FieldRef,
        array: &'a dyn Array,
        _options: &'a EncoderOptions,
    ) -> Result<Option<NullableEncoder<'a>>, ArrowError> {
        if ColumnType::of_field(field) != Some(ColumnType::Json) {
            return Ok(None);
        }
        let encoder: Box<dyn Encoder + 'a> = match array.data_type() {
            DataType::Utf8 => Box::new(Documents(array.as_string::<i32>())),
            DataType::LargeUtf8 => Box::new(Documents(array.as_string::<i64>())),
            DataType::Utf8View => Box::new(Documents(array.as_string_view())),
            _ => return Ok(None),
        };
        Ok(Some(NullableEncoder::new(encoder, array.nulls().cloned())))
    }
}

struct Documents<A>(A);

impl<'a, A: ArrayAccessor<Item = &'a str>> Encoder for Documents<A> {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        write_document(self.0.value(idx), out);
    }
}

/// A stored document as JSON without insignificant whitespace (a document written with
/// line breaks must not break NDJSON). Lakeward refuses invalid documents, but another
/// Delta writer may have stored one: that text is written as a JSON string instead.
fn write_document(text: &str, out: &mut Vec<u8>) {
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        serde_json::to_writer(out, text).expect("writing to a Vec cannot fail");
        return;
    }
    let (mut in_string, mut escaped) = (false, false);
    for &b in text.as_bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            out.push(b);
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            in_string = b == b'"';
            out.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, BinaryArray, BinaryViewArray, StringViewArray};

    fn lines(batch: &RecordBatch) -> String {
        String::from_utf8(json_lines(batch).unwrap()).unwrap()
    }

    #[test]
    fn binary_values_are_written_as_base64_in_every_layout() {
        let plain = BinaryArray::from(vec![Some(b"hi".as_ref()), None, Some(b"".as_ref())]);
        let view = BinaryViewArray::from(vec![Some(b"\x00\xff".as_ref()), None, Some(b"hi".as_ref())]);
        let batch =
            RecordBatch::try_from_iter(vec![("a", Arc::new(plain) as ArrayRef), ("b", Arc::new(view) as ArrayRef)])
                .unwrap();
        assert_eq!(
            lines(&batch),
            "{\"a\":\"aGk=\",\"b\":\"AP8=\"}\n{\"a\":null,\"b\":null}\n{\"a\":\"\",\"b\":\"aGk=\"}\n"
        );
    }

    #[test]
    fn json_documents_are_values_on_one_line_and_plain_strings_stay_strings() {
        let docs = ["{\"a\": 1,\n \"b\": [true, \"x y\\\" z\"]}", "[]", "\"text\"", "not json {", "{\"a\":1}"];
        let json_field = Field::new("doc", DataType::Utf8View, true).with_metadata(ColumnType::Json.metadata());
        let mut values: Vec<Option<&str>> = docs.iter().copied().map(Some).collect();
        values.push(None);
        let schema = Schema::new(vec![json_field, Field::new("plain", DataType::Utf8, true)]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![Arc::new(StringViewArray::from(values.clone())), Arc::new(StringArray::from(values))],
        )
        .unwrap();
        let expected = [
            r#"{"doc":{"a":1,"b":[true,"x y\" z"]},"plain":"{\"a\": 1,\n \"b\": [true, \"x y\\\" z\"]}"}"#,
            r#"{"doc":[],"plain":"[]"}"#,
            r#"{"doc":"text","plain":"\"text\""}"#,
            r#"{"doc":"not json {","plain":"not json {"}"#,
            r#"{"doc":{"a":1},"plain":"{\"a\":1}"}"#,
            r#"{"doc":null,"plain":null}"#,
        ];
        assert_eq!(lines(&batch), expected.map(|l| format!("{l}\n")).concat());
    }
}
