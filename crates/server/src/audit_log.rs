//! Writing audit events from handlers: one call per mutation, naming the actor, the
//! action (one [`EventKind`] of the one list), the target and a summary. Secrets never
//! go in here.

use lakeward_meta::EventKind;
use lakeward_meta::access::{Credential, Principal};
use lakeward_meta::store::NewAuditEvent;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::RequestMeta;
use crate::error::ApiResult;
use crate::state::AppState;

pub enum Actor<'a> {
    Principal(&'a Principal),
    /// A user who is not yet a principal: just onboarded, signing in, accepting an invite.
    User(Uuid),
    Anonymous,
}

pub struct Event {
    pub org_id: Option<Uuid>,
    pub action: EventKind,
    pub target_type: Option<&'static str>,
    pub target_id: Option<String>,
    pub details: Value,
}

impl Event {
    pub fn new(org_id: Uuid, action: EventKind) -> Self {
        Self { org_id: Some(org_id), action, target_type: None, target_id: None, details: json!({}) }
    }

    pub fn target(mut self, kind: &'static str, id: impl ToString) -> Self {
        self.target_type = Some(kind);
        self.target_id = Some(id.to_string());
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

pub async fn record(state: &AppState, request: &RequestMeta, actor: Actor<'_>, event: Event) -> ApiResult<()> {
    let (actor_type, actor_id, mut details) = match actor {
        Actor::Principal(p) => match p.credential {
            Credential::Session { .. } => ("user", Some(p.user_id), event.details),
            Credential::ApiKey { key_id, .. } => {
                let mut details = event.details;
                if let Value::Object(map) = &mut details {
                    map.insert("api_key_id".into(), json!(key_id));
                }
                ("api_key", Some(p.user_id), details)
            }
        },
        Actor::User(id) => ("user", Some(id), event.details),
        Actor::Anonymous => ("anonymous", None, event.details),
    };
    if details.is_null() {
        details = json!({});
    }
    state
        .meta
        .record_audit(NewAuditEvent {
            org_id: event.org_id,
            actor_type,
            actor_id,
            action: event.action,
            target_type: event.target_type,
            target_id: event.target_id.clone(),
            client_ip: Some(request.client_ip.to_string()),
            request_id: request.request_id.clone(),
            details: details.clone(),
        })
        .await?;
    // The audited change happened: tell the organisation's webhooks (in the background),
    // and let its GraphQL schema be checked again.
    if let Some(org_id) = event.org_id {
        state.graphql.changed(org_id, event.action);
        let target = event.target_type.zip(event.target_id.as_deref());
        state.webhooks.emit(org_id, event.action, target, details);
    }
    Ok(())
}
