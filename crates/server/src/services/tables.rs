//! Tables as a whole: creating one means a Delta table, its registry entry and an audit
//! event, or none of them.

use lakeward_engine::{TableMetadata, TableSpec, ops};
use lakeward_meta::EventKind;
use lakeward_meta::access::Principal;
use lakeward_meta::store::TableEntry;
use serde_json::json;

use crate::audit_log::{self, Actor, Event};
use crate::auth::RequestMeta;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::table_access;

/// Creates and registers a table in an existing schema of the caller's organisation,
/// and records it (callers have authorized `tables:create`).
pub async fn create_table(
    state: &AppState,
    request: &RequestMeta,
    principal: &Principal,
    reference: &lakeward_model::TableRef,
    spec: &TableSpec,
) -> ApiResult<(TableEntry, TableMetadata)> {
    if state.meta.get_schema(principal.org_id, &reference.catalog, &reference.schema).await?.is_none() {
        let (catalog, schema) = (&reference.catalog, Some(&reference.schema));
        return Err(table_access::not_found(state, principal.org_id, catalog, schema, None).await);
    }
    if state.meta.get_table(principal.org_id, reference).await?.is_some() {
        return Err(ApiError::conflict(format!("table `{reference}` already exists")));
    }
    let (location, connection_id) = location_for(state, principal, reference).await?;
    let actor = table_access::actor(state, principal).await?;
    let metadata = state
        .engine
        .run(ops::table::CreateTable {
            location: location.clone(),
            name: reference.table.to_string(),
            spec: spec.clone(),
            actor,
        })
        .await?;
    let registered = state
        .meta
        .register_table_on(principal.org_id, reference, location.as_str(), connection_id, principal.user_id)
        .await;
    let entry = match registered {
        Ok(entry) => entry,
        Err(e) => {
            // Someone registered the same name meanwhile: leave no orphaned files.
            let _ = state.engine.run(ops::table::DropTable { location: location.clone() }).await;
            return Err(e.into());
        }
    };
    let primary_key: Vec<&str> = spec.primary_key.iter().map(|k| k.as_str()).collect();
    audit_log::record(
        state,
        request,
        Actor::Principal(principal),
        Event::new(principal.org_id, EventKind::TableCreated)
            .target("table", reference)
            .details(json!({ "version": metadata.version, "columns": spec.columns.len(), "primary_key": primary_key })),
    )
    .await?;
    Ok((entry, metadata))
}

/// Where a new table goes: under the base of the storage connection its catalog is bound
/// to (`<base>/<schema>/<table>/`, refused on a read-only one), else in the warehouse.
pub(crate) async fn location_for(
    state: &AppState,
    principal: &Principal,
    reference: &lakeward_model::TableRef,
) -> ApiResult<(url::Url, Option<uuid::Uuid>)> {
    let Some(connection) =
        state.meta.storage_connection_of_catalog(principal.org_id, reference.catalog.as_str()).await?
    else {
        return Ok((state.config.warehouse.table_location(principal.org_id, reference), None));
    };
    if connection.read_only {
        return Err(ApiError::conflict(format!(
            "catalog `{}` is on the read-only storage connection `{}`: tables cannot be created there",
            reference.catalog, connection.name
        )));
    }
    let base = super::storages::open(state, &connection)?.base()?;
    let location = base.join(&format!("{}/{}/", reference.schema, reference.table)).map_err(ApiError::internal)?;
    Ok((location, Some(connection.id)))
}
