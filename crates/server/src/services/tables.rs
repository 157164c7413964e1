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
    let location = state.config.warehouse.table_location(principal.org_id, reference);
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
    let entry = match state.meta.register_table(principal.org_id, reference, location.as_str(), principal.user_id).await
    {
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
