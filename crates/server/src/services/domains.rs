//! Domain changes, committed and audited as one step. Every commit that changes a table's
//! rules is an audit event, whichever request makes it: the domain routes, and imports
//! that apply the domains they propose (`applyDomains`).

use lakeward_engine::ops;
use lakeward_engine::{DomainChange, DomainOutcome};
use lakeward_meta::EventKind;
use lakeward_meta::access::Principal;
use lakeward_model::TableRef;
use serde_json::json;
use url::Url;

use crate::audit_log::{self, Actor, Event};
use crate::auth::RequestMeta;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::table_access;

/// The table whose domain changes: its name (for the audit trail) and its location.
pub struct DomainTarget<'a> {
    pub table: &'a TableRef,
    pub location: &'a Url,
}

/// Changes `column`'s domain (the caller has authorized `domains:write`) and records the
/// event with the version it committed.
pub async fn apply(
    state: &AppState,
    request: &RequestMeta,
    principal: &Principal,
    target: DomainTarget<'_>,
    column: &str,
    change: DomainChange,
    force: bool,
) -> ApiResult<DomainOutcome> {
    let actor = table_access::actor(state, principal).await?;
    let action = event_of(&change);
    let outcome = state
        .engine
        .run(ops::rules::ChangeDomain {
            location: target.location.clone(),
            column: column.to_owned(),
            change,
            force,
            actor,
        })
        .await?;
    audit_log::record(
        state,
        request,
        Actor::Principal(principal),
        Event::new(principal.org_id, action).target("table", target.table).details(json!({
            "column": column,
            "version": outcome.version,
            "before": outcome.previous,
            "after": outcome.domain,
            "violating_rows": outcome.violating_rows,
        })),
    )
    .await?;
    Ok(outcome)
}

/// The audit event a domain change records.
fn event_of(change: &DomainChange) -> EventKind {
    match change {
        DomainChange::SetFixed { .. }
        | DomainChange::SetInline { .. }
        | DomainChange::SetDerived { .. }
        | DomainChange::SetTable { .. }
        | DomainChange::SetReference { .. } => EventKind::DomainSet,
        DomainChange::Remove => EventKind::DomainRemoved,
        DomainChange::AddValue { .. }
        | DomainChange::ReplaceValues { .. }
        | DomainChange::RemoveValue { .. }
        | DomainChange::AddParent { .. }
        | DomainChange::RemoveParent { .. }
        | DomainChange::AddChild { .. }
        | DomainChange::ReplaceChildren { .. }
        | DomainChange::RemoveChild { .. } => EventKind::DomainValuesChanged,
    }
}
