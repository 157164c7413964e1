//! Schema changes: add a column, change a column's nullability and comment, merge field
//! metadata, set the table's description and properties. Each is one Delta commit,
//! visible in history, and needs `tables:modify`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use lakeward_engine::ops;
use lakeward_engine::{ColumnChange, ColumnRewrite, ColumnSpec, ColumnType, TableChange};
use lakeward_meta::EventKind;
use lakeward_meta::access::{Action, Principal};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit_log::{self, Actor, Event};
use crate::auth::{Auth, RequestMeta};
use crate::error::{ApiError, ApiResult, FieldNames};
use crate::json::Json;
use crate::state::{AppState, SharedState};
use crate::table_access::{self, ColumnPath, ResolvedTable, TablePath, new_ident, resolve};
use crate::table_definition::ColumnRequest;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(add_column))
        .routes(routes!(change_column, drop_column))
        .routes(routes!(update_field_metadata))
        .routes(routes!(change_table))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaChangeResponse {
    /// The table version the change committed.
    pub version: u64,
}

/// One kind of change per request (each is one commit): `name` (rename), `type`
/// (widen), or `nullable`/`comment`. Renaming and widening rewrite the table's data.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeColumnRequest {
    /// A new name.
    pub name: Option<String>,
    /// A wider type: int32 to int64/float64/decimal, float32 to float64, date to
    /// timestamp, or a decimal with more digits.
    #[serde(rename = "type")]
    pub column_type: Option<String>,
    /// `false` makes the column NOT NULL (refused with the count while rows hold nulls).
    pub nullable: Option<bool>,
    /// The column comment; `null` removes it.
    #[serde(default, deserialize_with = "crate::json::present")]
    #[schema(value_type = Option<String>)]
    pub comment: Option<Option<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateFieldMetadataRequest {
    pub field_name: String,
    /// Merged into the column's metadata; a `null` value removes its key. Keys under
    /// `delta.` and `lakeward.` are reserved.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeTableRequest {
    pub description: Option<String>,
    /// Property -> value; `null` removes it. User properties, plus
    /// `delta.checkpointInterval`, `delta.targetFileSize`, `delta.logRetentionDuration`,
    /// `delta.deletedFileRetentionDuration`.
    #[serde(default)]
    pub properties: BTreeMap<String, Option<String>>,
}

async fn record(
    state: &AppState,
    request: &RequestMeta,
    principal: &Principal,
    t: &ResolvedTable,
    details: Value,
) -> ApiResult<()> {
    let event = Event::new(principal.org_id, EventKind::TableUpdated).target("table", &t.entry.table).details(details);
    audit_log::record(state, request, Actor::Principal(principal), event).await
}

/// Adds a nullable column.
#[utoipa::path(post, path = "/v1/tables/{catalog}/{schema}/{table}/columns", tag = "tables",
    security(("bearer" = [])), params(TablePath), request_body = ColumnRequest, responses((status = 200, body = SchemaChangeResponse)))]
pub async fn add_column(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(path): Path<TablePath>,
    Json(body): Json<ColumnRequest>,
) -> ApiResult<axum::Json<SchemaChangeResponse>> {
    let t = resolve(&state, &principal, &path, Action::TablesModify).await?;
    let spec = ColumnSpec {
        name: new_ident("name", &body.name)?,
        column_type: ColumnType::parse(&body.column_type).map_err(|m| ApiError::invalid_field("type", m))?,
        nullable: body.nullable,
        comment: body.comment.clone(),
    };
    let actor = table_access::actor(&state, &principal).await?;
    let version =
        state.engine.run(ops::schema::AddColumn { location: t.location.clone(), column: spec.clone(), actor }).await?;
    let details = json!({ "change": "add_column", "column": body.name, "type": spec.column_type.to_string(), "version": version });
    record(&state, &request, &principal, &t, details).await?;
    Ok(axum::Json(SchemaChangeResponse { version }))
}

/// Changes a column's nullability or comment.
#[utoipa::path(patch, path = "/v1/tables/{catalog}/{schema}/{table}/columns/{column}", tag = "tables",
    security(("bearer" = [])), params(ColumnPath), request_body = ChangeColumnRequest, responses((status = 200, body = SchemaChangeResponse)))]
pub async fn change_column(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(path): Path<ColumnPath>,
    Json(body): Json<ChangeColumnRequest>,
) -> ApiResult<axum::Json<SchemaChangeResponse>> {
    let t = resolve(&state, &principal, &path, Action::TablesModify).await?;
    let column = path.column;
    let kinds = [body.name.is_some(), body.column_type.is_some(), body.nullable.is_some() || body.comment.is_some()];
    match kinds.iter().filter(|k| **k).count() {
        0 => return Err(ApiError::invalid_field("body", "nothing to change: give name, type, nullable or comment")),
        1 => {}
        _ => return Err(ApiError::invalid_field("body", "rename, widen and other changes are separate requests")),
    }
    let actor = table_access::actor(&state, &principal).await?;
    let rewrite = match (&body.name, &body.column_type) {
        (Some(name), _) => Some(ColumnRewrite::Rename(new_ident("name", name)?)),
        (_, Some(t)) => {
            Some(ColumnRewrite::Widen(ColumnType::parse(t).map_err(|m| ApiError::invalid_field("type", m))?))
        }
        _ => None,
    };
    let version = match &rewrite {
        Some(r) => {
            state
                .engine
                .run(ops::schema::RewriteColumn {
                    location: t.location.clone(),
                    column: column.clone(),
                    rewrite: r.clone(),
                    actor,
                })
                .await?
        }
        None => {
            let change = ColumnChange { nullable: body.nullable, comment: body.comment.clone() };
            state
                .engine
                .run(ops::schema::ChangeColumn { location: t.location.clone(), column: column.clone(), change, actor })
                .await?
        }
    };
    let details = json!({
        "change": "change_column", "column": column, "name": body.name, "type": body.column_type,
        "nullable": body.nullable, "comment": body.comment, "version": version,
    });
    record(&state, &request, &principal, &t, details).await?;
    Ok(axum::Json(SchemaChangeResponse { version }))
}

/// Merges key-value pairs into a column's metadata.
#[utoipa::path(put, path = "/v1/tables/{catalog}/{schema}/{table}/fields/metadata", tag = "tables",
    security(("bearer" = [])), params(TablePath), request_body = UpdateFieldMetadataRequest,
    responses((status = 200, body = SchemaChangeResponse)))]
pub async fn update_field_metadata(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(path): Path<TablePath>,
    Json(body): Json<UpdateFieldMetadataRequest>,
) -> ApiResult<axum::Json<SchemaChangeResponse>> {
    let t = resolve(&state, &principal, &path, Action::TablesModify).await?;
    let actor = table_access::actor(&state, &principal).await?;
    let version = state
        .engine
        .run(ops::schema::MergeFieldMetadata {
            location: t.location.clone(),
            column: body.field_name.clone(),
            entries: body.metadata.clone(),
            actor,
        })
        .await
        .map_err(|e| ApiError::engine(e, FieldNames { column: "fieldName", ..FieldNames::REST }))?;
    let details =
        json!({ "change": "field_metadata", "column": body.field_name, "metadata": body.metadata, "version": version });
    record(&state, &request, &principal, &t, details).await?;
    Ok(axum::Json(SchemaChangeResponse { version }))
}

/// Sets the table's description and properties.
#[utoipa::path(patch, path = "/v1/tables/{catalog}/{schema}/{table}", tag = "tables",
    security(("bearer" = [])), params(TablePath), request_body = ChangeTableRequest, responses((status = 200, body = SchemaChangeResponse)))]
pub async fn change_table(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(path): Path<TablePath>,
    Json(body): Json<ChangeTableRequest>,
) -> ApiResult<axum::Json<SchemaChangeResponse>> {
    let t = resolve(&state, &principal, &path, Action::TablesModify).await?;
    let actor = table_access::actor(&state, &principal).await?;
    let change = TableChange { description: body.description.clone(), properties: body.properties.clone() };
    let version = state.engine.run(ops::schema::ChangeTable { location: t.location.clone(), change, actor }).await?;
    let event = Event::new(principal.org_id, EventKind::TableUpdated).target("table", &t.entry.table).details(json!({
        "description": body.description, "properties": body.properties, "version": version,
    }));
    audit_log::record(&state, &request, Actor::Principal(&principal), event).await?;
    Ok(axum::Json(SchemaChangeResponse { version }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DropColumnQuery {
    /// Must repeat the column's name to confirm.
    pub confirm: Option<String>,
}

/// Drops a column (its data is rewritten without it; earlier versions keep it). Needs
/// `?confirm=<column>`.
#[utoipa::path(delete, path = "/v1/tables/{catalog}/{schema}/{table}/columns/{column}", tag = "tables",
    security(("bearer" = [])), params(ColumnPath, DropColumnQuery), responses((status = 200, body = SchemaChangeResponse)))]
pub async fn drop_column(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(path): Path<ColumnPath>,
    crate::query::Query(q): crate::query::Query<DropColumnQuery>,
) -> ApiResult<axum::Json<SchemaChangeResponse>> {
    let t = resolve(&state, &principal, &path, Action::TablesModify).await?;
    let column = path.column;
    if q.confirm.as_deref() != Some(column.as_str()) {
        return Err(ApiError::invalid_field(
            "confirm",
            format!("dropping deletes the column's data: ?confirm={column}"),
        ));
    }
    let actor = table_access::actor(&state, &principal).await?;
    let version = state
        .engine
        .run(ops::schema::RewriteColumn {
            location: t.location.clone(),
            column: column.clone(),
            rewrite: ColumnRewrite::Drop,
            actor,
        })
        .await?;
    record(&state, &request, &principal, &t, json!({ "change": "drop_column", "column": column, "version": version }))
        .await?;
    Ok(axum::Json(SchemaChangeResponse { version }))
}
