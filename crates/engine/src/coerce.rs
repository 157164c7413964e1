//! Value coercion: a JSON value or a filter's text as a value of a column's type, with a
//! message saying why it does not fit. Writes, updates and filters all coerce through here.

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder, Float64Builder,
    Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use std::sync::Arc;

use arrow::datatypes::Decimal128Type;
use base64::Engine as _;
use serde_json::Value;

use crate::types::ColumnType;

/// A filter value typed for a column: the text parsed as that column's type.
pub fn scalar_from_text(
    field: &arrow::datatypes::Field,
    text: &str,
) -> Result<datafusion::scalar::ScalarValue, String> {
    let column_type = match ColumnType::of_field(field) {
        // Filters compare a JSON column's text as text.
        Some(ColumnType::Json) | None => ColumnType::String,
        Some(t) => t,
    };
    let mut builder = ColumnBuilder::new(column_type, 1);
    builder.append_json(&Value::String(text.to_owned()))?;
    let array = builder.finish();
    let scalar = datafusion::scalar::ScalarValue::try_from_array(&array, 0).map_err(|e| e.to_string())?;
    Ok(scalar)
}

/// A JSON value typed for a column (for update assignments); `null` stays null.
pub fn scalar_from_json(
    field: &arrow::datatypes::Field,
    value: &Value,
) -> Result<datafusion::scalar::ScalarValue, String> {
    let column_type = ColumnType::of_field(field).unwrap_or(ColumnType::String);
    let mut builder = ColumnBuilder::new(column_type, 1);
    if value.is_null() {
        if !field.is_nullable() {
            return Err("must not be null".into());
        }
        builder.append_null();
    } else {
        builder.append_json(value)?;
    }
    datafusion::scalar::ScalarValue::try_from_array(&builder.finish(), 0).map_err(|e| e.to_string())
}

pub(crate) enum ColumnBuilder {
    String(StringBuilder, bool),
    Boolean(BooleanBuilder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Decimal(Decimal128Builder, u8, i8),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Binary(BinaryBuilder),
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl ColumnBuilder {
    pub(crate) fn new(t: ColumnType, capacity: usize) -> Self {
        match t {
            ColumnType::String => Self::String(StringBuilder::with_capacity(capacity, capacity * 16), false),
            ColumnType::Json => Self::String(StringBuilder::with_capacity(capacity, capacity * 32), true),
            ColumnType::Boolean => Self::Boolean(BooleanBuilder::with_capacity(capacity)),
            ColumnType::Int32 => Self::Int32(Int32Builder::with_capacity(capacity)),
            ColumnType::Int64 => Self::Int64(Int64Builder::with_capacity(capacity)),
            ColumnType::Float32 => Self::Float32(Float32Builder::with_capacity(capacity)),
            ColumnType::Float64 => Self::Float64(Float64Builder::with_capacity(capacity)),
            ColumnType::Decimal { precision, scale } => Self::Decimal(
                Decimal128Builder::with_capacity(capacity)
                    .with_precision_and_scale(precision, scale)
                    .expect("validated"),
                precision,
                scale,
            ),
            ColumnType::Date => Self::Date(Date32Builder::with_capacity(capacity)),
            ColumnType::Timestamp => {
                Self::Timestamp(TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"))
            }
            ColumnType::Binary => Self::Binary(BinaryBuilder::with_capacity(capacity, capacity * 16)),
        }
    }

    pub(crate) fn append_null(&mut self) {
        match self {
            Self::String(b, _) => b.append_null(),
            Self::Boolean(b) => b.append_null(),
            Self::Int32(b) => b.append_null(),
            Self::Int64(b) => b.append_null(),
            Self::Float32(b) => b.append_null(),
            Self::Float64(b) => b.append_null(),
            Self::Decimal(b, ..) => b.append_null(),
            Self::Date(b) => b.append_null(),
            Self::Timestamp(b) => b.append_null(),
            Self::Binary(b) => b.append_null(),
        }
    }

    pub(crate) fn append_json(&mut self, v: &Value) -> Result<(), String> {
        match self {
            Self::String(b, true) => b.append_value(v.to_string()),
            Self::String(b, false) => match v {
                Value::String(s) => b.append_value(s),
                Value::Number(n) => b.append_value(n.to_string()),
                Value::Bool(x) => b.append_value(x.to_string()),
                other => return Err(format!("expected a string, got {}", describe(other))),
            },
            Self::Boolean(b) => b.append_value(match v {
                Value::Bool(x) => *x,
                Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                other => return Err(format!("expected a boolean, got {}", describe(other))),
            }),
            Self::Int32(b) => {
                let n = integer(v)?;
                b.append_value(i32::try_from(n).map_err(|_| format!("{n} is out of range for int32"))?)
            }
            Self::Int64(b) => b.append_value(integer(v)?),
            Self::Float32(b) => b.append_value(float(v)? as f32),
            Self::Float64(b) => b.append_value(float(v)?),
            Self::Decimal(b, precision, scale) => {
                let text = match v {
                    Value::Number(n) => n.to_string(),
                    Value::String(s) => s.trim().to_owned(),
                    other => return Err(format!("expected a decimal number, got {}", describe(other))),
                };
                let parsed =
                    arrow::compute::kernels::cast_utils::parse_decimal::<Decimal128Type>(&text, *precision, *scale)
                        .map_err(|_| format!("`{text}` is not a decimal({precision},{scale})"))?;
                b.append_value(parsed)
            }
            Self::Date(b) => {
                let Value::String(s) = v else {
                    return Err(format!("expected a date string (YYYY-MM-DD), got {}", describe(v)));
                };
                let date = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                    .map_err(|_| format!("`{s}` is not a date (YYYY-MM-DD)"))?;
                let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid");
                b.append_value((date - epoch).num_days() as i32)
            }
            Self::Timestamp(b) => {
                let Value::String(s) = v else {
                    return Err(format!("expected an RFC 3339 timestamp string, got {}", describe(v)));
                };
                b.append_value(parse_timestamp_micros(s)?)
            }
            Self::Binary(b) => {
                let Value::String(s) = v else { return Err(format!("expected base64 text, got {}", describe(v))) };
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .map_err(|_| "not valid base64".to_owned())?;
                b.append_value(bytes)
            }
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> ArrayRef {
        match self {
            Self::String(mut b, _) => Arc::new(b.finish()),
            Self::Boolean(mut b) => Arc::new(b.finish()),
            Self::Int32(mut b) => Arc::new(b.finish()),
            Self::Int64(mut b) => Arc::new(b.finish()),
            Self::Float32(mut b) => Arc::new(b.finish()),
            Self::Float64(mut b) => Arc::new(b.finish()),
            Self::Decimal(mut b, ..) => Arc::new(b.finish()),
            Self::Date(mut b) => Arc::new(b.finish()),
            Self::Timestamp(mut b) => Arc::new(b.finish()),
            Self::Binary(mut b) => Arc::new(b.finish()),
        }
    }
}

fn integer(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| format!("{n} is not an integer in range")),
        Value::String(s) => s.trim().parse().map_err(|_| format!("`{s}` is not an integer")),
        other => Err(format!("expected an integer, got {}", describe(other))),
    }
}

fn float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("{n} is not a number")),
        Value::String(s) => s.trim().parse().map_err(|_| format!("`{s}` is not a number")),
        other => Err(format!("expected a number, got {}", describe(other))),
    }
}

/// RFC 3339 (any offset, converted to UTC), or `YYYY-MM-DD[ T]HH:MM:SS[.f]` taken as UTC.
pub fn parse_timestamp_micros(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_micros());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, format) {
            return Ok(t.and_utc().timestamp_micros());
        }
    }
    Err(format!("`{s}` is not a timestamp (RFC 3339, e.g. 2024-01-31T12:00:00Z)"))
}
