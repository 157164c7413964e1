//! Finding the table a request names, after asking whether the caller may act on it.
//! Tables are looked up within the caller's organisation only, so another
//! organisation's table is simply not found.

use chrono::{DateTime, Utc};
use lakeward_engine::{Actor, TimeTravel};
use lakeward_meta::access::{Action, Principal, PrivilegeSet, Resource, authorize};
use lakeward_meta::store::{Securable, TableEntry};
use lakeward_model::{Ident, TableRef};
use url::Url;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A path segment that is not an identifier names nothing: 404 naming it as the `what`
/// (`catalog`, `schema`, `table`) it was meant to be.
pub fn ident_in_path(what: &str, raw: &str) -> ApiResult<Ident> {
    Ident::new(raw).map_err(|_| ApiError::missing(format!("{what} `{raw}`")))
}

/// A name being created must be an identifier: 400 naming the field.
pub fn new_ident(field: &str, raw: &str) -> ApiResult<Ident> {
    Ident::new(raw).map_err(|e| ApiError::invalid_field(field, e.to_string()))
}

/// A schema's path, `catalog.schema`; a part that is not an identifier is named in full in
/// the 404 (`schema `main.bad-name``).
pub fn schema_ref(catalog: &str, schema: &str) -> ApiResult<(Ident, Ident)> {
    let catalog = ident_in_path("catalog", catalog)?;
    let schema = Ident::new(schema).map_err(|_| ApiError::missing(format!("schema `{catalog}.{schema}`")))?;
    Ok((catalog, schema))
}

/// A table's path, `catalog.schema.table`, named in full in the 404 like [`schema_ref`].
pub fn table_ref(catalog: &str, schema: &str, table: &str) -> ApiResult<TableRef> {
    let (catalog, schema) = schema_ref(catalog, schema)?;
    let table = Ident::new(table).map_err(|_| ApiError::missing(format!("table `{catalog}.{schema}.{table}`")))?;
    Ok(TableRef { catalog, schema, table })
}

/// The 404 for a name in the caller's organisation that finds nothing: it names the
/// outermost part that is missing, the catalog, else the schema, else the table. Only the
/// caller's own organisation is looked in, so it says nothing of anyone else's.
pub async fn not_found(
    state: &AppState,
    org_id: Uuid,
    catalog: &Ident,
    schema: Option<&Ident>,
    table: Option<&Ident>,
) -> ApiError {
    match state.meta.get_catalog(org_id, catalog).await {
        Ok(None) => return ApiError::missing(format!("catalog `{catalog}`")),
        Err(e) => return e.into(),
        Ok(Some(_)) => {}
    }
    let Some(schema) = schema else { return ApiError::missing(format!("catalog `{catalog}`")) };
    match state.meta.get_schema(org_id, catalog, schema).await {
        Ok(None) => return ApiError::missing(format!("schema `{catalog}.{schema}`")),
        Err(e) => return e.into(),
        Ok(Some(_)) => {}
    }
    match table {
        Some(table) => ApiError::missing(format!("table `{catalog}.{schema}.{table}`")),
        None => ApiError::missing(format!("schema `{catalog}.{schema}`")),
    }
}

/// The table a route's path names: `/v1/tables/{catalog}/{schema}/{table}/...`. Routes
/// with more path parameters extract those separately.
#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TablePath {
    pub catalog: String,
    pub schema: String,
    pub table: String,
}

impl TablePath {
    pub fn new(catalog: String, schema: String, table: String) -> Self {
        Self { catalog, schema, table }
    }
}

/// A column's path: `/v1/tables/{catalog}/{schema}/{table}/columns/{column}/...`.
#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ColumnPath {
    pub catalog: String,
    pub schema: String,
    pub table: String,
    pub column: String,
}

/// A path that names a table (and maybe more inside it).
pub trait NamesTable {
    fn table_names(&self) -> (&str, &str, &str);
}

impl NamesTable for TablePath {
    fn table_names(&self) -> (&str, &str, &str) {
        (&self.catalog, &self.schema, &self.table)
    }
}

impl NamesTable for ColumnPath {
    fn table_names(&self) -> (&str, &str, &str) {
        (&self.catalog, &self.schema, &self.table)
    }
}

pub struct ResolvedTable {
    pub entry: TableEntry,
    pub location: Url,
}

/// Authorizes `action` on tables of the caller's organisation and finds the table; a
/// write to a table on a read-only storage connection is refused (409).
pub async fn resolve(
    state: &AppState,
    principal: &Principal,
    path: &impl NamesTable,
    action: Action,
) -> ApiResult<ResolvedTable> {
    let resolved = resolve_registered(state, principal, path, action).await?;
    if writes(action) {
        refuse_read_only(state, principal, &resolved.entry).await?;
    }
    Ok(resolved)
}

/// The actions that change a table's data or definition.
fn writes(action: Action) -> bool {
    matches!(
        action,
        Action::RowsInsert
            | Action::RowsUpdate
            | Action::RowsDelete
            | Action::TablesImport
            | Action::TablesModify
            | Action::DomainsWrite
    )
}

/// Refuses writes to a table on a read-only storage connection.
pub async fn refuse_read_only(state: &AppState, principal: &Principal, entry: &TableEntry) -> ApiResult<()> {
    let Some(connection_id) = entry.connection_id else { return Ok(()) };
    match state.meta.get_storage_connection(principal.org_id, connection_id).await? {
        Some(connection) if connection.read_only => Err(ApiError::conflict(format!(
            "table `{}` is on the read-only storage connection `{}`: it can be read, not written",
            entry.table, connection.name
        ))),
        _ => Ok(()),
    }
}

/// [`resolve`] without the read-only check: for what changes only the registry.
pub async fn resolve_registered(
    state: &AppState,
    principal: &Principal,
    path: &impl NamesTable,
    action: Action,
) -> ApiResult<ResolvedTable> {
    // What the role refuses, a grant on this table may allow; a refused caller learns
    // nothing more about which tables exist than before.
    let by_role = authorize(principal, action, &Resource::Table { org_id: principal.org_id });
    if by_role.is_err() && action.privilege().is_none() {
        by_role?;
    }
    let (catalog, schema, table) = path.table_names();
    let r = table_ref(catalog, schema, table)?;
    let Some(entry) = state.meta.get_table(principal.org_id, &r).await? else {
        by_role?;
        return Err(not_found(state, principal.org_id, &r.catalog, Some(&r.schema), Some(&r.table)).await);
    };
    if by_role.is_err() {
        authorize_on_table(state, principal, action, &entry.table).await?;
    }
    let location = Url::parse(&entry.location).map_err(ApiError::internal)?;
    Ok(ResolvedTable { entry, location })
}

/// Whether the principal may do `action` on this table: by its role, or by privileges
/// granted to it or its teams on the table, its schema or its catalog.
pub async fn authorize_on_table(
    state: &AppState,
    principal: &Principal,
    action: Action,
    table: &TableRef,
) -> ApiResult<()> {
    if authorize(principal, action, &Resource::Table { org_id: principal.org_id }).is_ok() {
        return Ok(());
    }
    let granted = granted_on(state, principal, &Securable::Table(table.to_string())).await?;
    Ok(authorize(principal, action, &Resource::Granted { org_id: principal.org_id, granted })?)
}

/// The privileges granted to the principal (or its teams) on an object or above it.
pub async fn granted_on(state: &AppState, principal: &Principal, securable: &Securable) -> ApiResult<PrivilegeSet> {
    Ok(state.meta.granted_privileges(principal.org_id, principal.user_id, securable).await?)
}

/// `?version=N` or `?as_of=<RFC 3339>`; not both.
pub fn time_travel(version: Option<u64>, as_of: Option<&str>) -> ApiResult<TimeTravel> {
    match (version, as_of) {
        (Some(_), Some(_)) => Err(ApiError::invalid_field("as_of", "give version or as_of, not both")),
        (Some(v), None) => Ok(TimeTravel::Version(v)),
        (None, Some(t)) => DateTime::parse_from_rfc3339(t)
            .map(|t| TimeTravel::AsOf(t.with_timezone(&Utc)))
            .map_err(|_| ApiError::invalid_field("as_of", "must be an RFC 3339 timestamp, e.g. 2026-01-31T12:00:00Z")),
        (None, None) => Ok(TimeTravel::Latest),
    }
}

/// The actor recorded in Delta commits: the user's id and email.
pub async fn actor(state: &AppState, principal: &Principal) -> ApiResult<Actor> {
    let user = state.meta.get_user(principal.user_id).await?.ok_or_else(ApiError::not_found)?;
    Ok(Actor { user_id: user.id.to_string(), user_name: user.email })
}
