//! The metadata answers arrow-flight has no builder for: primary keys (from the table's
//! definition, as `GET /v1/tables/...` shows it) and the SQL types the sandbox knows
//! (`GetXdbcTypeInfo`), in the schemas the Flight SQL protocol gives them.

use std::sync::{Arc, OnceLock};

use arrow::array::{Int32Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow_flight::sql::metadata::{XdbcTypeInfo, XdbcTypeInfoData, XdbcTypeInfoDataBuilder};
use arrow_flight::sql::{Nullable, Searchable, XdbcDataType};
use tonic::Status;

/// `GetPrimaryKeys`' answer schema (Flight SQL: catalog, schema, table, column, key name,
/// the column's place in the key from 1).
pub fn primary_keys_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("catalog_name", DataType::Utf8, true),
        Field::new("db_schema_name", DataType::Utf8, true),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("column_name", DataType::Utf8, false),
        Field::new("key_name", DataType::Utf8, true),
        Field::new("key_sequence", DataType::Int32, false),
    ]))
}

/// The rows of `GetPrimaryKeys` for one table and its key columns, in key order.
pub fn primary_keys(catalog: &str, schema: &str, table: &str, key: &[String]) -> Result<RecordBatch, Status> {
    let (mut c, mut s, mut t, mut col, mut name, mut seq) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        Int32Builder::new(),
    );
    for (i, column) in key.iter().enumerate() {
        c.append_value(catalog);
        s.append_value(schema);
        t.append_value(table);
        col.append_value(column);
        name.append_value("primary_key");
        seq.append_value(i as i32 + 1);
    }
    RecordBatch::try_new(
        primary_keys_schema(),
        vec![
            Arc::new(c.finish()),
            Arc::new(s.finish()),
            Arc::new(t.finish()),
            Arc::new(col.finish()),
            Arc::new(name.finish()),
            Arc::new(seq.finish()),
        ],
    )
    .map_err(|e| Status::internal(e.to_string()))
}

/// The SQL types of Lakeward's column types, as the sandbox names them.
pub fn xdbc_types() -> &'static XdbcTypeInfoData {
    static TYPES: OnceLock<XdbcTypeInfoData> = OnceLock::new();
    TYPES.get_or_init(|| {
        let mut builder = XdbcTypeInfoDataBuilder::new();
        let kinds = [
            ("BOOLEAN", XdbcDataType::XdbcBit, None, None),
            ("INT", XdbcDataType::XdbcInteger, Some(10), None),
            ("BIGINT", XdbcDataType::XdbcBigint, Some(19), None),
            ("DOUBLE", XdbcDataType::XdbcDouble, Some(15), None),
            ("DECIMAL", XdbcDataType::XdbcDecimal, Some(38), Some(vec!["precision".to_owned(), "scale".to_owned()])),
            ("VARCHAR", XdbcDataType::XdbcVarchar, None, None),
            ("VARBINARY", XdbcDataType::XdbcVarbinary, None, None),
            ("DATE", XdbcDataType::XdbcDate, Some(10), None),
            ("TIMESTAMP", XdbcDataType::XdbcTimestamp, Some(29), None),
        ];
        for (name, data_type, column_size, create_params) in kinds {
            let quoted =
                matches!(data_type, XdbcDataType::XdbcVarchar | XdbcDataType::XdbcDate | XdbcDataType::XdbcTimestamp);
            let numeric =
                column_size.is_some() && !matches!(data_type, XdbcDataType::XdbcDate | XdbcDataType::XdbcTimestamp);
            builder.append(XdbcTypeInfo {
                type_name: name.to_owned(),
                data_type,
                column_size,
                literal_prefix: quoted.then(|| "'".to_owned()),
                literal_suffix: quoted.then(|| "'".to_owned()),
                create_params,
                nullable: Nullable::NullabilityNullable,
                case_sensitive: data_type == XdbcDataType::XdbcVarchar,
                searchable: Searchable::Full,
                unsigned_attribute: numeric.then_some(false),
                fixed_prec_scale: data_type == XdbcDataType::XdbcDecimal,
                auto_increment: numeric.then_some(false),
                local_type_name: Some(name.to_owned()),
                minimum_scale: (data_type == XdbcDataType::XdbcDecimal).then_some(0),
                maximum_scale: (data_type == XdbcDataType::XdbcDecimal).then_some(38),
                sql_data_type: data_type,
                datetime_subcode: None,
                num_prec_radix: numeric.then_some(10),
                interval_precision: None,
            });
        }
        builder.build().expect("static type list")
    })
}
