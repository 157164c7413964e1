//! The column types a table may have, by their documented names, and their Arrow form.
//!
//! | name | Arrow / Delta |
//! |---|---|
//! | `string` | Utf8 / string |
//! | `boolean` | Boolean / boolean |
//! | `int32`, `int64` | Int32, Int64 / integer, long |
//! | `float32`, `float64` | Float32, Float64 / float, double |
//! | `decimal(p,s)` | Decimal128(p, s), 1 <= p <= 38, 0 <= s <= p / decimal(p,s) |
//! | `date` | Date32 / date |
//! | `timestamp` | Timestamp(µs, UTC) / timestamp |
//! | `binary` | Binary / binary (base64 in JSON) |
//! | `json` | Utf8 holding a JSON document, marked in the column metadata / string |

use std::collections::HashMap;
use std::fmt;

use arrow::datatypes::{DataType, Field, TimeUnit};

/// Column metadata key that marks a string column as holding JSON documents.
pub const LOGICAL_TYPE_KEY: &str = "lakeward.type";
/// Column metadata key for a column's comment (the key Spark and Unity Catalog use).
pub const COMMENT_KEY: &str = "comment";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    String,
    Boolean,
    Int32,
    Int64,
    Float32,
    Float64,
    Decimal { precision: u8, scale: i8 },
    Date,
    Timestamp,
    Binary,
    Json,
}

pub const TYPE_NAMES: &str =
    "string, boolean, int32, int64, float32, float64, decimal(p,s), date, timestamp, binary, json";

impl ColumnType {
    pub fn parse(raw: &str) -> Result<ColumnType, String> {
        let name = raw.trim().to_ascii_lowercase();
        Ok(match name.as_str() {
            "string" => ColumnType::String,
            "boolean" => ColumnType::Boolean,
            "int32" => ColumnType::Int32,
            "int64" => ColumnType::Int64,
            "float32" => ColumnType::Float32,
            "float64" => ColumnType::Float64,
            "date" => ColumnType::Date,
            "timestamp" => ColumnType::Timestamp,
            "binary" => ColumnType::Binary,
            "json" => ColumnType::Json,
            other => {
                let args = other
                    .strip_prefix("decimal(")
                    .and_then(|r| r.strip_suffix(')'))
                    .ok_or_else(|| format!("unknown type `{raw}` (known: {TYPE_NAMES})"))?;
                let (p, s) = args
                    .split_once(',')
                    .ok_or_else(|| format!("decimal needs precision and scale, e.g. decimal(10,2); got `{raw}`"))?;
                let precision: u8 = p.trim().parse().map_err(|_| format!("bad decimal precision in `{raw}`"))?;
                let scale: i8 = s.trim().parse().map_err(|_| format!("bad decimal scale in `{raw}`"))?;
                if !(1..=38).contains(&precision) || scale < 0 || scale as u8 > precision {
                    return Err(format!("decimal precision must be 1..=38 and scale 0..=precision; got `{raw}`"));
                }
                ColumnType::Decimal { precision, scale }
            }
        })
    }

    pub fn arrow(self) -> DataType {
        match self {
            ColumnType::String | ColumnType::Json => DataType::Utf8,
            ColumnType::Boolean => DataType::Boolean,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Float32 => DataType::Float32,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Decimal { precision, scale } => DataType::Decimal128(precision, scale),
            ColumnType::Date => DataType::Date32,
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ColumnType::Binary => DataType::Binary,
        }
    }

    /// The column type of an Arrow field, if it is one of ours.
    pub fn of_field(field: &Field) -> Option<ColumnType> {
        let json = field.metadata().get(LOGICAL_TYPE_KEY).is_some_and(|t| t == "json");
        Some(match field.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View if json => ColumnType::Json,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnType::String,
            DataType::Boolean => ColumnType::Boolean,
            DataType::Int32 => ColumnType::Int32,
            DataType::Int64 => ColumnType::Int64,
            DataType::Float32 => ColumnType::Float32,
            DataType::Float64 => ColumnType::Float64,
            DataType::Decimal128(p, s) => ColumnType::Decimal { precision: *p, scale: *s },
            DataType::Date32 => ColumnType::Date,
            DataType::Timestamp(_, _) => ColumnType::Timestamp,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => ColumnType::Binary,
            _ => return None,
        })
    }

    /// Column metadata this type implies (only `json` has any).
    pub fn metadata(self) -> HashMap<String, String> {
        match self {
            ColumnType::Json => HashMap::from([(LOGICAL_TYPE_KEY.to_owned(), "json".to_owned())]),
            _ => HashMap::new(),
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::String => f.write_str("string"),
            ColumnType::Boolean => f.write_str("boolean"),
            ColumnType::Int32 => f.write_str("int32"),
            ColumnType::Int64 => f.write_str("int64"),
            ColumnType::Float32 => f.write_str("float32"),
            ColumnType::Float64 => f.write_str("float64"),
            ColumnType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            ColumnType::Date => f.write_str("date"),
            ColumnType::Timestamp => f.write_str("timestamp"),
            ColumnType::Binary => f.write_str("binary"),
            ColumnType::Json => f.write_str("json"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_type_round_trips() {
        for name in [
            "string",
            "boolean",
            "int32",
            "int64",
            "float32",
            "float64",
            "decimal(10,2)",
            "date",
            "timestamp",
            "binary",
            "json",
        ] {
            let t = ColumnType::parse(name).unwrap();
            assert_eq!(t.to_string(), name);
            let field = Field::new("c", t.arrow(), true).with_metadata(t.metadata());
            assert_eq!(ColumnType::of_field(&field), Some(t), "{name}");
        }
        assert_eq!(ColumnType::parse(" Decimal( 38 , 0 ) ").unwrap(), ColumnType::Decimal { precision: 38, scale: 0 });
    }

    #[test]
    fn bad_types_say_why() {
        assert!(ColumnType::parse("varchar").unwrap_err().contains("known: string"));
        assert!(ColumnType::parse("decimal(39,2)").is_err());
        assert!(ColumnType::parse("decimal(5,6)").is_err());
        assert!(ColumnType::parse("decimal(5)").is_err());
    }
}
