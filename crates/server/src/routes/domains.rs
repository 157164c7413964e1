//! Column domains (`/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain...`):
//! fixed, hierarchical (inline, derived, table lookup) and reference domains, their
//! values, the resolved allowed values, and whether an enum value is in use. Reading
//! needs `domains:read`; changing needs `domains:write`. A change that existing rows
//! would violate answers 409 with `violatingRows`, unless `?force=true`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use lakeward_engine::ops;
use lakeward_engine::{Domain, DomainChange};
use lakeward_meta::access::{Action, Principal};
use lakeward_model::TableRef;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::{Auth, RequestMeta};
use crate::error::{ApiError, ApiResult, FieldNames};
use crate::json::Json;
use crate::query::Query;
use crate::services::domains::{self, DomainTarget};
use crate::state::{AppState, SharedState};
use crate::table_access::{self, ColumnPath, ResolvedTable, TablePath, resolve, time_travel};

// Handlers spell out their `Path<(...)>` types: utoipa reads the path parameters from
// them, and cannot see through a type alias.
pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(get_domain, remove_domain))
        .routes(routes!(set_fixed))
        .routes(routes!(set_inline))
        .routes(routes!(set_derived))
        .routes(routes!(set_table_lookup))
        .routes(routes!(set_reference))
        .routes(routes!(add_value, replace_values))
        .routes(routes!(remove_value))
        .routes(routes!(add_parent))
        .routes(routes!(remove_parent))
        .routes(routes!(add_child, replace_children))
        .routes(routes!(remove_child))
        .routes(routes!(allowed_values))
        .routes(routes!(check_enum))
}

/// A column's domain: `null` when it has none. `domain.type` is `fixed`,
/// `hierarchical` (with `lookup.kind` `inline`, `derived` or `table`) or `reference`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ColumnDomainResponse {
    pub column_name: String,
    #[schema(value_type = Object)]
    pub domain: Option<Domain>,
    /// The table version the change committed (on changes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Existing rows outside the new domain, when a change was forced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violating_rows: Option<u64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangeQuery {
    /// Apply the change even if existing rows violate it.
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReadQuery {
    pub version: Option<u64>,
    pub as_of: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FixedDomainRequest {
    /// The complete list of allowed values.
    pub allowed_values: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HierarchicalInlineRequest {
    pub parent_column: String,
    /// Parent (a value id of the parent column's fixed domain, or a parent value) ->
    /// the allowed child values.
    pub mappings: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HierarchicalDerivedRequest {
    pub parent_column: String,
}

/// A table of this organisation, as `catalog.schema.table`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HierarchicalTableRequest {
    pub parent_column: String,
    /// The lookup table, as `catalog.schema.table`.
    pub table_name: String,
    /// Accepted for compatibility: Lakeward never exposes storage paths, so this too is
    /// `catalog.schema.table` and must name the same table.
    pub table_path: Option<String>,
    pub parent_key: String,
    pub child_key: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferenceDomainRequest {
    #[schema(value_type = Object)]
    pub table_reference: TableRef,
    /// Accepted for compatibility: `catalog.schema.table`, naming the same table.
    pub table_path: Option<String>,
    /// The source column: its own fixed domain if it has one, else its values.
    pub column: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddValueRequest {
    pub value: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetValuesRequest {
    pub values: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddChildRequest {
    pub child: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetChildrenRequest {
    pub children: Vec<String>,
}

fn parse_table(field: &str, raw: &str) -> ApiResult<TableRef> {
    let parts: Vec<&str> = raw.split('.').collect();
    let [catalog, schema, table] = parts.as_slice() else {
        return Err(ApiError::invalid_field(field, "must be `catalog.schema.table`"));
    };
    table_access::table_ref(catalog, schema, table)
        .map_err(|_| ApiError::invalid_field(field, "must be `catalog.schema.table` of valid identifiers"))
}

/// A source table named in a domain: it must be one of the caller's organisation, and
/// readable by the caller.
async fn source_table(state: &AppState, principal: &Principal, field: &str, table: &TableRef) -> ApiResult<()> {
    let path = TablePath::new(table.catalog.to_string(), table.schema.to_string(), table.table.to_string());
    match resolve(state, principal, &path, Action::TablesRead).await {
        Ok(_) => Ok(()),
        Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => {
            Err(ApiError::invalid_field(field, format!("no table `{table}` in this organisation")))
        }
        Err(e) => Err(e),
    }
}

fn same_table(path: Option<&str>, table: &TableRef) -> ApiResult<()> {
    match path {
        Some(p) if parse_table("table_path", p)? != *table => {
            Err(ApiError::invalid_field("table_path", "names a different table than the table reference"))
        }
        _ => Ok(()),
    }
}

/// Applies a change, records it, and answers the new domain.
async fn change(
    state: &AppState,
    request: &RequestMeta,
    principal: &Principal,
    path: ColumnPath,
    change: DomainChange,
    force: bool,
) -> ApiResult<axum::Json<ColumnDomainResponse>> {
    let t: ResolvedTable = resolve(state, principal, &path, Action::DomainsWrite).await?;
    let column = path.column;
    let target = DomainTarget { table: &t.entry.table, location: &t.location };
    let outcome = domains::apply(state, request, principal, target, &column, change, force).await?;
    Ok(axum::Json(ColumnDomainResponse {
        column_name: column,
        domain: outcome.domain,
        version: Some(outcome.version),
        violating_rows: (outcome.violating_rows > 0).then_some(outcome.violating_rows),
    }))
}

/// A column's domain (`domains:read`); `?version=`/`?as_of=` read an earlier state.
#[utoipa::path(get, path = "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain", tag = "domains",
    security(("bearer" = [])), params(ColumnPath, ReadQuery), responses((status = 200, body = ColumnDomainResponse)))]
pub async fn get_domain(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Query(q): Query<ReadQuery>,
    Path(path): Path<ColumnPath>,
) -> ApiResult<axum::Json<ColumnDomainResponse>> {
    let t = resolve(&state, &principal, &path, Action::DomainsRead).await?;
    let column = path.column;
    let at = time_travel(q.version, q.as_of.as_deref())?;
    let domain =
        state.engine.run(ops::rules::ColumnDomain { location: t.location.clone(), column: column.clone(), at }).await?;
    Ok(axum::Json(ColumnDomainResponse { column_name: column, domain, version: None, violating_rows: None }))
}

/// Removes a column's domain (`domains:write`).
#[utoipa::path(delete, path = "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain", tag = "domains",
    security(("bearer" = [])), params(ColumnPath), responses((status = 200, body = ColumnDomainResponse)))]
pub async fn remove_domain(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    path: Path<ColumnPath>,
) -> ApiResult<axum::Json<ColumnDomainResponse>> {
    change(&state, &request, &principal, path.0, DomainChange::Remove, false).await
}

/// Sets a fixed (enum) domain.
#[utoipa::path(put, path = "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/fixed", tag = "domains",
    security(("bearer" = [])), params(ColumnPath, ChangeQuery), request_body = FixedDomainRequest,
    responses((status = 200, body = ColumnDomainResponse)))]
pub async fn set_fixed(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Query(q): Query<ChangeQuery>,
    path: Path<ColumnPath>,
    Json(body): Json<FixedDomainRequest>,
) -> ApiResult<axum::Json<ColumnDomainResponse>> {
    let c = DomainChange::SetFixed { values: body.allowed_values };
    change(&state, &request, &principal, path.0, c, q.force).await
}

/// Sets a hierarchical inline domain: allowed children per parent value.
#[utoipa::path(put, path = "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/hierarchical/inline",
    tag = "domains", security(("bearer" = [])), params(ColumnPath, ChangeQuery), request_body = HierarchicalInlineRequest,
    responses((status = 200, body = ColumnDomainResponse)))]
pub async fn set_inline(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Query(q): Query<ChangeQuery>,
    path: Path<ColumnPath>,
    Json(body): Json<HierarchicalInlineRequest>,
) -> ApiResult<axum::Json<ColumnDomainResponse>> {
    let c = DomainChange::SetInline { parent_column: body.parent_column, mappings: body.mappings };
    change(&state, &request, &principal, path.0, c, q.force).await
}

/// Sets a hierarchical derived domain: for a parent value already in the table, the
/// allowed children are those already present with it.
#[utoipa::path(put, path = "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/hierarchical/derived",
    tag = "domains", security(("bearer" = [])), params(ColumnPath, ChangeQuery), request_body = HierarchicalDerivedRequest,
    responses((status = 200, body = ColumnDomainResponse)))]
pub async fn set_derived(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Query(q): Query<ChangeQuery>,
    path: Path<ColumnPath>,
    Json(body): Json<HierarchicalDerivedRequest>,
) -> ApiResult<axum::Json<ColumnDomainResponse>> {
    let c = DomainChange::SetDerived { parent_column: body.parent_column };
    change(&state, &request, &principal, path.0, c, q.force).await
}

/// Sets a hierarchical table-lookup domain: (parent, child) pairs from another table.
#[utoipa::path(put, path = "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/hierarchical/table",
    tag = "domains", security(("bearer" = [])), params(ColumnPath, ChangeQuery), request_body = HierarchicalTableRequest,
    responses((status = 200, body = ColumnDomainResponse)))]
pub async fn set_table_lookup(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Query(q): Query<ChangeQuery>,
    path: Path<ColumnPath>,
    Json(body): Json<HierarchicalTableRequest>,
) -> ApiResult<axum::Json<ColumnDomainResponse>> {
    let table = parse_table("table_name", &body.table_name)?;
    same_table(body.table_path.as_deref(), &table)?;
    source_table(&state, &principal, "table_name", &table).await?;
    let c = DomainChange::SetTable {
        parent_column: body.parent_column,
        table,
        parent_key: body.parent_key,
        child_key: body.child_key,
    };
    change(&state, &request, &principal, path.0, c, q.force).await
}

/// Sets a reference domain: the values of another table's column (or its domain).
#[utoipa::path(put, path = "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/reference", tag = "domains",
    security(("bearer" = [])), params(ColumnPath, ChangeQuery), request_body = ReferenceDomainRequest,
    responses((status = 200, body = ColumnDomainResponse)))]
pub async fn set_reference(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Query(q): Query<ChangeQuery>,
    path: Path<ColumnPath>,
    Json(body): Json<ReferenceDomainRequest>,
) -> ApiResult<axum::Json<ColumnDomainResponse>> {
    same_table(body.table_path.as_deref(), &body.table_reference)?;
    source_table(&state, &principal, "table_reference", &body.table_reference).await?;
    let c = DomainChange::SetReference { table: body.table_reference, column: body.column };
    change(&state, &request, &principal, path.0, c, q.force).await
}

/// Adds a value to a fixed domain.
#[utoipa::path(post, path = "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/values", tag = "domains",
    security(("bearer" = [])), params(ColumnPath), request_body = AddValueRequest, responses((status = 200, body = ColumnDomainResponse)))]
pub async fn add_value(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    path: Path<ColumnPath>,
    Json(body): Json<AddValueRequest>,
) -> ApiResult<axum::Json<ColumnDomainResponse>> {
    change(&state, &request, &principal, path.0, DomainChange::AddValue { value: body.value }, false).await
}

/// Replaces every value of a fixed domain (values that stay keep their ids).
#[utoipa::path(put, path = "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/values", tag = "domains",
    security(("bearer" = [])), params(ColumnPath, ChangeQuery), request_body = SetValuesRequest,
    responses((status = 200, body = ColumnDomainResponse)))]
pub async fn replace_values(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Query(q): Query<ChangeQuery>,
    path: Path<ColumnPath>,
    Json(body): Json<SetValuesRequest>,
) -> ApiResult<axum::Json<ColumnDomainResponse>> {
    change(&state, &request, &principal, path.0, DomainChange::ReplaceValues { values: body.values }, q.force).await
}

/// Removes a value (by id or value) from a fixed domain.
#[utoipa::path(delete, path = "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/values/{value}",
    tag = "domains", security(("bearer" = [])), params(ChangeQuery),
    responses((status = 200, body = ColumnDomainResponse)))]
pub async fn remove_value(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Query(q): Query<ChangeQuery>,
    Path((catalog, schema, table, column, value)): Path<(String, String, String, String, String)>,
) -> ApiResult<axum::Json<ColumnDomainResponse>> {
    let path = ColumnPath { catalog, schema, table, column };
    change(&state, &request, &principal, path, DomainChange::RemoveValue { value }, q.force).await
}

/// Adds a parent value to a hierarchical inline domain.
#[utoipa::path(post, path = "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/parents", tag = "domains",
    security(("bearer" = [])), params(ColumnPath), request_body = AddValueRequest, responses((status = 200, body = ColumnDomainResponse)))]
pub async fn add_parent(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    path: Path<ColumnPath>,
    Json(body): Json<AddValueRequest>,
) -> ApiResult<axum::Json<ColumnDomainResponse>> {
    change(&state, &request, &principal, path.0, DomainChange::AddParent { value: body.value }, false).await
}

/// Removes a parent (by id or value) and its children from a hierarchical inline domain.
#[utoipa::path(delete, path = "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/parents/{parent}",
    tag = "domains", security(("bearer" = [])), params(ChangeQuery),
    responses((status = 200, body = ColumnDomainResponse)))]
pub async fn remove_parent(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Query(q): Query<ChangeQuery>,
    Path((catalog, schema, table, column, parent)): Path<(String, String, String, String, String)>,
) -> ApiResult<axum::Json<ColumnDomainResponse>> {
    let path = ColumnPath { catalog, schema, table, column };
    change(&state, &request, &principal, path, DomainChange::RemoveParent { parent }, q.force).await
}

/// Adds a child value under a parent of a hierarchical inline domain.
#[utoipa::path(post, path = "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/parents/{parent}/children",
    tag = "domains", security(("bearer" = [])), request_body = AddChildRequest,
    responses((status = 200, body = ColumnDomainResponse)))]
pub async fn add_child(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path((catalog, schema, table, column, parent)): Path<(String, String, String, String, String)>,
    Json(body): Json<AddChildRequest>,
) -> ApiResult<axum::Json<ColumnDomainResponse>> {
    let path = ColumnPath { catalog, schema, table, column };
    change(&state, &request, &principal, path, DomainChange::AddChild { parent, child: body.child }, false).await
}

/// Replaces every child value under a parent of a hierarchical inline domain.
#[utoipa::path(put, path = "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/parents/{parent}/children",
    tag = "domains", security(("bearer" = [])), params(ChangeQuery), request_body = SetChildrenRequest,
    responses((status = 200, body = ColumnDomainResponse)))]
pub async fn replace_children(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Query(q): Query<ChangeQuery>,
    Path((catalog, schema, table, column, parent)): Path<(String, String, String, String, String)>,
    Json(body): Json<SetChildrenRequest>,
) -> ApiResult<axum::Json<ColumnDomainResponse>> {
    let path = ColumnPath { catalog, schema, table, column };
    let c = DomainChange::ReplaceChildren { parent, children: body.children };
    change(&state, &request, &principal, path, c, q.force).await
}

/// Removes a child value (by id or value) from a parent of a hierarchical inline domain.
#[utoipa::path(delete,
    path = "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/parents/{parent}/children/{child}",
    tag = "domains", security(("bearer" = [])), params(ChangeQuery),
    responses((status = 200, body = ColumnDomainResponse)))]
pub async fn remove_child(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Query(q): Query<ChangeQuery>,
    Path((catalog, schema, table, column, parent, child)): Path<(String, String, String, String, String, String)>,
) -> ApiResult<axum::Json<ColumnDomainResponse>> {
    let path = ColumnPath { catalog, schema, table, column };
    change(&state, &request, &principal, path, DomainChange::RemoveChild { parent, child }, q.force).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AllowedValuesQuery {
    /// For hierarchical domains: the parent value whose children to list (without it,
    /// every allowed child value).
    pub parent_value: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AllowedValue {
    /// Absent for values that come from data (derived, table lookups, plain columns).
    pub id: Option<Uuid>,
    pub value: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AllowedValuesResponse {
    pub column_name: String,
    pub parent_value: Option<String>,
    pub allowed_values: Vec<AllowedValue>,
}

/// The values a column accepts now, with lookups resolved (`domains:read`).
#[utoipa::path(get, path = "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/allowed-values", tag = "domains",
    security(("bearer" = [])), params(ColumnPath, AllowedValuesQuery), responses((status = 200, body = AllowedValuesResponse)))]
pub async fn allowed_values(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Query(q): Query<AllowedValuesQuery>,
    Path(path): Path<ColumnPath>,
) -> ApiResult<axum::Json<AllowedValuesResponse>> {
    let t = resolve(&state, &principal, &path, Action::DomainsRead).await?;
    let column = path.column;
    let resolved = state
        .engine
        .run(ops::rules::ResolveAllowedValues {
            location: t.location.clone(),
            column: column.clone(),
            parent_value: q.parent_value.clone(),
        })
        .await
        .map_err(|e| ApiError::engine(e, FieldNames { column: "column_name", ..FieldNames::REST }))?;
    Ok(axum::Json(AllowedValuesResponse {
        column_name: column,
        parent_value: resolved.parent_value,
        allowed_values: resolved.values.into_iter().map(|(id, value)| AllowedValue { id, value }).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CheckEnumRequest {
    pub field_name: String,
    pub value: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckEnumResponse {
    pub field_name: String,
    pub value: String,
    /// Whether any row holds the value (removing it from the domain would need force).
    pub in_use: bool,
    pub rows: u64,
}

/// Whether a value is in use in a column, and by how many rows (`domains:read`).
#[utoipa::path(post, path = "/v1/tables/{catalog}/{schema}/{table}/enums/check", tag = "domains",
    security(("bearer" = [])), params(TablePath), request_body = CheckEnumRequest, responses((status = 200, body = CheckEnumResponse)))]
pub async fn check_enum(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(path): Path<TablePath>,
    Json(body): Json<CheckEnumRequest>,
) -> ApiResult<axum::Json<CheckEnumResponse>> {
    let t = resolve(&state, &principal, &path, Action::DomainsRead).await?;
    let rows = state
        .engine
        .run(ops::rules::ValueUsage {
            location: t.location.clone(),
            column: body.field_name.clone(),
            value: body.value.clone(),
        })
        .await
        .map_err(|e| ApiError::engine(e, FieldNames { column: "fieldName", ..FieldNames::REST }))?;
    Ok(axum::Json(CheckEnumResponse { field_name: body.field_name, value: body.value, in_use: rows > 0, rows }))
}
