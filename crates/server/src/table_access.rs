//! Finding the table a request names, after asking whether the caller may act on it.
//! Tables are looked up within the caller's organisation only, so another
//! organisation's table is simply not found.

use chrono::{DateTime, Utc};
use lakeward_engine::{Actor, TimeTravel};
use lakeward_meta::access::{Action, Principal, Resource, authorize};
use lakeward_meta::store::TableEntry;
use lakeward_model::{Ident, TableRef};
use url::Url;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A path segment that is not an identifier names nothing: 404.
pub fn ident_in_path(raw: &str) -> ApiResult<Ident> {
    Ident::new(raw).map_err(|_| ApiError::not_found())
}

/// A name being created must be an identifier: 400 naming the field.
pub fn new_ident(field: &str, raw: &str) -> ApiResult<Ident> {
    Ident::new(raw).map_err(|e| ApiError::invalid_field(field, e.to_string()))
}

pub fn table_ref(catalog: &str, schema: &str, table: &str) -> ApiResult<TableRef> {
    Ok(TableRef { catalog: ident_in_path(catalog)?, schema: ident_in_path(schema)?, table: ident_in_path(table)? })
}

pub struct ResolvedTable {
    pub entry: TableEntry,
    pub location: Url,
}

/// Authorizes `action` on tables of the caller's organisation and finds the table.
pub async fn resolve(
    state: &AppState,
    principal: &Principal,
    path: (&str, &str, &str),
    action: Action,
) -> ApiResult<ResolvedTable> {
    authorize(principal, action, &Resource::Table { org_id: principal.org_id })?;
    let reference = table_ref(path.0, path.1, path.2)?;
    let entry = state.meta.get_table(principal.org_id, &reference).await?.ok_or_else(ApiError::not_found)?;
    let location = Url::parse(&entry.location).map_err(ApiError::internal)?;
    Ok(ResolvedTable { entry, location })
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
