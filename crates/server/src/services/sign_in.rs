//! Signing in with an email and a password, for every surface (REST's
//! `POST /v1/auth/login`, the Flight SQL handshake): the password checked in constant time
//! whether or not the user exists, a session started, and the attempt audited.

use lakeward_meta::EventKind;
use lakeward_meta::secrets;
use lakeward_meta::store::{User, UserStatus};
use serde_json::json;

use crate::audit_log::{self, Actor, Event};
use crate::auth::{RequestMeta, TokenResponse, start_session};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The user and a new session's token; 401 for an unknown email, a wrong password or an
/// inactive user alike (the failure is on a known user's organisation's trail).
pub async fn sign_in(
    state: &AppState,
    request: &RequestMeta,
    email: &str,
    password: &str,
) -> ApiResult<(User, TokenResponse)> {
    let user = state.meta.find_user_by_email(email).await?;
    let known_user = user.as_ref().map(|u| (u.org_id, u.id));
    let stored_hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let password = password.to_owned();
    // Verify against a dummy hash when there is no user, so both failures take as long.
    let verified = tokio::task::spawn_blocking(move || {
        secrets::verify_password(&password, stored_hash.as_deref().unwrap_or(secrets::dummy_password_hash()))
            && stored_hash.is_some()
    })
    .await
    .map_err(ApiError::internal)?;

    let Some(user) = user.filter(|u| verified && u.status == UserStatus::Active) else {
        // Known users' failures go to their organisation's trail; unknown emails to none.
        let event = Event {
            org_id: known_user.map(|(org, _)| org),
            action: EventKind::AuthLoginFailed,
            target_type: Some("user"),
            target_id: known_user.map(|(_, id)| id.to_string()),
            details: json!({ "email": email.trim().to_lowercase() }),
        };
        audit_log::record(state, request, Actor::Anonymous, event).await?;
        return Err(ApiError::unauthorized("Invalid email or password"));
    };
    let token = start_session(state, user.id, user.org_id).await?;
    audit_log::record(
        state,
        request,
        Actor::User(user.id),
        Event::new(user.org_id, EventKind::AuthLogin).target("user", user.id),
    )
    .await?;
    Ok((user, token))
}
