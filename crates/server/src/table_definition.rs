//! A table's definition as requests give it (JSON), checked and turned into the engine's
//! `TableSpec`: by table creation and by imports that create their table.

use lakeward_engine::{ColumnSpec, ColumnType, TableSpec};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::table_access::new_ident;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnRequest {
    pub name: String,
    /// One of string, boolean, int32, int64, float32, float64, decimal(p,s), date,
    /// timestamp (UTC), binary, json.
    #[serde(rename = "type")]
    #[schema(example = "string")]
    pub column_type: String,
    #[serde(default = "yes")]
    pub nullable: bool,
    pub comment: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTableRequest {
    pub columns: Vec<ColumnRequest>,
    #[serde(default)]
    pub primary_key: Vec<String>,
    #[serde(default)]
    pub partition_by: Vec<String>,
    pub description: Option<String>,
}

/// The definition, checked: 400 naming the field at fault.
pub fn table_spec(body: &CreateTableRequest) -> ApiResult<TableSpec> {
    let columns = body
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(ColumnSpec {
                name: new_ident(&format!("columns[{i}].name"), &c.name)?,
                column_type: ColumnType::parse(&c.column_type)
                    .map_err(|m| ApiError::invalid_field(format!("columns[{i}].type"), m))?,
                nullable: c.nullable,
                comment: c.comment.clone(),
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let idents = |field: &str, names: &[String]| {
        names.iter().enumerate().map(|(i, n)| new_ident(&format!("{field}[{i}]"), n)).collect::<ApiResult<Vec<_>>>()
    };
    let spec = TableSpec {
        columns,
        primary_key: idents("primary_key", &body.primary_key)?,
        partition_by: idents("partition_by", &body.partition_by)?,
        description: body.description.clone(),
    };
    spec.validate()?;
    Ok(spec)
}
