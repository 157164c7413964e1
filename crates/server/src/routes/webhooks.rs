//! Webhook endpoints of the organisation (`webhooks:read` / `webhooks:write`): register
//! a URL with a signing secret and the events to receive, change or remove it, send a
//! test ping, and see its deliveries with their status and response code.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use lakeward_meta::EventKind;
use lakeward_meta::access::{Action, Principal, Resource, authorize};
use lakeward_meta::secrets::{WEBHOOK_SECRET_PREFIX, generate_webhook_secret};
use lakeward_meta::store::{Delivery, NewWebhook, Webhook, WebhookUpdate};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::SuccessResponse;
use crate::audit_log::{self, Actor, Event};
use crate::auth::{Auth, RequestMeta};
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::query::Query;
use crate::state::SharedState;
use crate::webhooks::targets;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new()
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(list_events))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(ping_webhook))
        .routes(routes!(list_deliveries))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// `http://` or `https://` URL that receives `POST`s. Unless the server allows
    /// private targets, it must be (and resolve to) a public address.
    pub url: String,
    /// Events to receive (`GET /v1/webhooks/events` lists them), or `["*"]` for all.
    pub events: Vec<String>,
    /// The signing secret, 16 to 256 characters; generated (`whsec_...`) when absent.
    /// Returned once, in this response.
    pub secret: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "crate::json::present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// An inactive webhook receives nothing.
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookResponse {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
    /// Only in the answer to the creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<Webhook> for WebhookResponse {
    fn from(w: Webhook) -> Self {
        Self {
            id: w.id,
            url: w.url,
            events: w.events,
            description: w.description,
            active: w.active,
            created_at: w.created_at,
            created_by: w.created_by,
            secret: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryResponse {
    pub id: Uuid,
    pub event: String,
    /// `pending` (waiting for an attempt or a retry), `delivered` or `failed` (given up).
    pub status: String,
    pub attempts: i64,
    pub response_code: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<Delivery> for DeliveryResponse {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            event: d.event,
            status: d.status,
            attempts: d.attempts,
            response_code: d.response_code,
            last_error: d.last_error,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
        }
    }
}

async fn check_url(state: &SharedState, raw: &str) -> ApiResult<String> {
    let url = url::Url::parse(raw).map_err(|e| ApiError::invalid_field("url", format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ApiError::invalid_field("url", "must be an http:// or https:// URL with a host"));
    }
    if raw.len() > 2048 {
        return Err(ApiError::invalid_field("url", "must be at most 2048 characters"));
    }
    if !state.webhooks.allows_private_targets()
        && let Some(refusal) = targets::registration_refusal(&url).await
    {
        return Err(ApiError::invalid_field("url", refusal));
    }
    Ok(url.to_string())
}

/// The subscription as given, without repeats: `*` or names of subscribable events.
fn check_events(events: &[String]) -> ApiResult<Vec<String>> {
    if events.is_empty() {
        return Err(ApiError::invalid_field("events", "give at least one event, or `*` for all"));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if e != "*" {
            let refusal = match e.parse::<EventKind>() {
                Ok(kind) if kind.subscribable() => None,
                Ok(_) => Some(format!("`{e}` is recorded in the audit trail only")),
                Err(unknown) => Some(unknown.to_string()),
            };
            if let Some(refusal) = refusal {
                let names: Vec<&str> = EventKind::subscribable_events().map(EventKind::as_str).collect();
                return Err(ApiError::invalid_field(
                    format!("events[{i}]"),
                    format!("{refusal}; events: {}", names.join(", ")),
                ));
            }
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

fn webhook_id(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found())
}

async fn find(state: &SharedState, principal: &Principal, raw_id: &str) -> ApiResult<Webhook> {
    let id = webhook_id(raw_id)?;
    state.meta.get_webhook(principal.org_id, id).await?.ok_or_else(ApiError::not_found)
}

fn org(principal: &Principal) -> Resource {
    Resource::Organisation { org_id: principal.org_id }
}

/// An event a webhook can subscribe to.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventDescription {
    #[schema(example = "table.created")]
    pub name: &'static str,
    #[schema(example = "A table was created.")]
    pub description: &'static str,
}

/// The events a webhook can subscribe to, with what each means (`webhooks:read`). Every
/// other audited action (sign-ins, sign-outs) is recorded in the audit trail only.
#[utoipa::path(get, path = "/v1/webhooks/events", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Vec<EventDescription>)))]
pub async fn list_events(Auth(principal): Auth) -> ApiResult<axum::Json<Vec<EventDescription>>> {
    authorize(&principal, Action::WebhooksRead, &org(&principal))?;
    let events = EventKind::subscribable_events()
        .map(|e| EventDescription { name: e.as_str(), description: e.description() })
        .collect();
    Ok(axum::Json(events))
}

/// Registers a webhook (`webhooks:write`).
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    request_body = CreateWebhookRequest, responses((status = 201, body = WebhookResponse)))]
pub async fn create_webhook(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Json(body): Json<CreateWebhookRequest>,
) -> ApiResult<(StatusCode, axum::Json<WebhookResponse>)> {
    authorize(&principal, Action::WebhooksWrite, &org(&principal))?;
    let url = check_url(&state, &body.url).await?;
    let events = check_events(&body.events)?;
    let secret = match body.secret {
        Some(s) if !(16..=256).contains(&s.chars().count()) => {
            return Err(ApiError::invalid_field("secret", "must be 16 to 256 characters"));
        }
        Some(s) => s,
        None => generate_webhook_secret(),
    };
    let sealed = state.webhooks.seal(&secret);
    let hook = state
        .meta
        .create_webhook(NewWebhook {
            org_id: principal.org_id,
            url: &url,
            events: &events,
            description: body.description.as_deref(),
            secret_sealed: &sealed,
            created_by: principal.user_id,
        })
        .await?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::WebhookCreated)
            .target("webhook", hook.id)
            .details(json!({ "url": hook.url, "events": hook.events, "generated_secret": secret.starts_with(WEBHOOK_SECRET_PREFIX) })),
    )
    .await?;
    let response = WebhookResponse { secret: Some(secret), ..hook.into() };
    Ok((StatusCode::CREATED, axum::Json(response)))
}

/// The organisation's webhooks (`webhooks:read`).
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Vec<WebhookResponse>)))]
pub async fn list_webhooks(
    State(state): State<SharedState>,
    Auth(principal): Auth,
) -> ApiResult<axum::Json<Vec<WebhookResponse>>> {
    authorize(&principal, Action::WebhooksRead, &org(&principal))?;
    let hooks = state.meta.list_webhooks(principal.org_id).await?;
    Ok(axum::Json(hooks.into_iter().map(WebhookResponse::from).collect()))
}

/// One webhook (`webhooks:read`).
#[utoipa::path(get, path = "/v1/webhooks/{webhook_id}", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = WebhookResponse)))]
pub async fn get_webhook(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<WebhookResponse>> {
    authorize(&principal, Action::WebhooksRead, &org(&principal))?;
    Ok(axum::Json(find(&state, &principal, &id).await?.into()))
}

/// Changes a webhook's URL, events, description or activity (`webhooks:write`).
#[utoipa::path(patch, path = "/v1/webhooks/{webhook_id}", tag = "webhooks", security(("bearer" = [])),
    request_body = UpdateWebhookRequest, responses((status = 200, body = WebhookResponse)))]
pub async fn update_webhook(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(id): Path<String>,
    Json(body): Json<UpdateWebhookRequest>,
) -> ApiResult<axum::Json<WebhookResponse>> {
    authorize(&principal, Action::WebhooksWrite, &org(&principal))?;
    let before = find(&state, &principal, &id).await?;
    let url = match body.url.as_deref() {
        Some(raw) => Some(check_url(&state, raw).await?),
        None => None,
    };
    let update = WebhookUpdate {
        url,
        events: body.events.as_deref().map(check_events).transpose()?,
        description: body.description,
        active: body.active,
    };
    let after = state.meta.update_webhook(principal.org_id, before.id, update).await?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::WebhookUpdated).target("webhook", after.id).details(json!({
            "before": { "url": before.url, "events": before.events, "active": before.active },
            "after": { "url": after.url, "events": after.events, "active": after.active },
        })),
    )
    .await?;
    Ok(axum::Json(after.into()))
}

/// Removes a webhook and its delivery records (`webhooks:write`).
#[utoipa::path(delete, path = "/v1/webhooks/{webhook_id}", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = SuccessResponse)))]
pub async fn delete_webhook(
    State(state): State<SharedState>,
    request: RequestMeta,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<SuccessResponse>> {
    authorize(&principal, Action::WebhooksWrite, &org(&principal))?;
    let hook = find(&state, &principal, &id).await?;
    state.meta.delete_webhook(principal.org_id, hook.id).await?;
    audit_log::record(
        &state,
        &request,
        Actor::Principal(&principal),
        Event::new(principal.org_id, EventKind::WebhookDeleted)
            .target("webhook", hook.id)
            .details(json!({ "url": hook.url })),
    )
    .await?;
    Ok(SuccessResponse::new("Webhook deleted"))
}

/// Sends a `ping` event now and answers its delivery record (`webhooks:write`).
#[utoipa::path(post, path = "/v1/webhooks/{webhook_id}/test", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = DeliveryResponse)))]
pub async fn ping_webhook(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<DeliveryResponse>> {
    authorize(&principal, Action::WebhooksWrite, &org(&principal))?;
    let hook = find(&state, &principal, &id).await?;
    let delivery = state.webhooks.ping(&hook).await.map_err(ApiError::internal)?;
    Ok(axum::Json(delivery.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// 1 to 500 (default 50).
    pub limit: Option<i64>,
}

/// A webhook's deliveries, newest first (`webhooks:read`).
#[utoipa::path(get, path = "/v1/webhooks/{webhook_id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(DeliveriesQuery), responses((status = 200, body = Vec<DeliveryResponse>)))]
pub async fn list_deliveries(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    Query(q): Query<DeliveriesQuery>,
) -> ApiResult<axum::Json<Vec<DeliveryResponse>>> {
    authorize(&principal, Action::WebhooksRead, &org(&principal))?;
    let hook = find(&state, &principal, &id).await?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "must be between 1 and 500"));
    }
    let deliveries = state.meta.list_deliveries(principal.org_id, hook.id, limit).await?;
    Ok(axum::Json(deliveries.into_iter().map(DeliveryResponse::from).collect()))
}
