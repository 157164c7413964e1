//! CHECK constraints of a table, stored as Delta constraints (`delta.constraints.<name>`)
//! so that every Delta writer enforces them. Adding one that existing rows violate is
//! refused with the count (409, `violatingRows`). Needs `tables:modify`.

use axum::extract::{Path, State};
use lakeward_engine::ops;
use lakeward_meta::EventKind;
use lakeward_meta::access::Action;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit_log::{self, Actor, Event};
use crate::auth::{Auth, RequestMeta};
use crate::error::ApiResult;
use crate::json::Json;
use crate::state::SharedState;
use crate::table_access::{self, TablePath, resolve};

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(add_constraints)).routes(routes!(drop_constraint))
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    /// Letters, digits and underscores, not starting with a digit.
    pub name: String,
    /// A SQL boolean expression over the table's columns, e.g. `age >= 0`.
    pub expr: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddConstraintsRequest {
    pub constraints: Vec<Constraint>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConstraintsResponse {
    /// The table version the change committed.
    pub version: u64,
}

/// Adds one or more named CHECK constraints in one commit.
#[utoipa::path(post, path = "/v1/tables/{catalog}/{schema}/{table}/constraints", tag = "tables",
    security(("bearer" = [])), params(TablePath), request_body = AddConstraintsRequest,
    responses((status = 200, body = ConstraintsResponse)))]
pub async fn add_constraints(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(path): Path<TablePath>,
    Json(body): Json<AddConstraintsRequest>,
) -> ApiResult<axum::Json<ConstraintsResponse>> {
    let t = resolve(&state, &principal, &path, Action::TablesModify).await?;
    let actor = table_access::actor(&state, &principal).await?;
    let pairs: Vec<(String, String)> = body.constraints.iter().map(|c| (c.name.clone(), c.expr.clone())).collect();
    let version = state
        .engine
        .run(ops::rules::AddConstraints { location: t.location.clone(), constraints: pairs, actor })
        .await?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::ConstraintAdded)
            .target("table", &t.entry.table)
            .details(json!({ "constraints": body.constraints, "version": version })),
    )
    .await?;
    Ok(axum::Json(ConstraintsResponse { version }))
}

/// Drops a CHECK constraint.
#[utoipa::path(delete, path = "/v1/tables/{catalog}/{schema}/{table}/constraints/{name}", tag = "tables",
    security(("bearer" = [])), responses((status = 200, body = ConstraintsResponse)))]
pub async fn drop_constraint(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path((catalog, schema, table, name)): Path<(String, String, String, String)>,
) -> ApiResult<axum::Json<ConstraintsResponse>> {
    let t = resolve(
        &state,
        &principal,
        &TablePath::new(catalog.clone(), schema.clone(), table.clone()),
        Action::TablesModify,
    )
    .await?;
    let actor = table_access::actor(&state, &principal).await?;
    let (version, expr) = state
        .engine
        .run(ops::rules::DropConstraint { location: t.location.clone(), name: name.clone(), actor })
        .await?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::ConstraintDropped)
            .target("table", &t.entry.table)
            .details(json!({ "name": name, "before": expr, "version": version })),
    )
    .await?;
    Ok(axum::Json(ConstraintsResponse { version }))
}
