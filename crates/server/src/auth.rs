//! Who is calling: bearer credentials (session tokens and API keys) resolved to a
//! [`Principal`], and the extractors handlers use to get it.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lakeward_meta::access::{Credential, Principal};
use lakeward_meta::secrets::{self, ServerSecret};
use lakeward_meta::store::{Session, UserStatus};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

const ISSUER: &str = "lakeward";

/// Signs and checks session tokens (HS256 JWTs under a key derived from the server secret).
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    org: Uuid,
    sid: Uuid,
    iss: String,
    iat: i64,
    exp: i64,
}

impl Tokens {
    pub fn new(secret: &ServerSecret) -> Self {
        let key = secret.derive("session-token");
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 0;
        Self { encoding: EncodingKey::from_secret(&key), decoding: DecodingKey::from_secret(&key), validation }
    }

    pub fn issue(&self, session: &Session) -> String {
        let claims = Claims {
            sub: session.user_id,
            org: session.org_id,
            sid: session.id,
            iss: ISSUER.to_owned(),
            iat: session.created_at.timestamp(),
            exp: session.expires_at.timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }

    fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok().map(|data| data.claims)
    }
}

/// The answer for every credential that does not work, so that a caller cannot tell a
/// revoked key from an expired one or from one that never existed.
pub fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("Invalid or expired token")
}

/// Resolves a bearer credential to the principal it stands for, checking that the user
/// is still active and, for keys, that the key is neither revoked nor expired.
pub async fn resolve_bearer(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let now = Utc::now();
    let (user_id, credential) = if secrets::looks_like_api_key(token) {
        let hash = secrets::hash_token(&state.config.secret, "api-key", token);
        let key = state.meta.find_api_key_by_hash(&hash).await?.ok_or_else(invalid_credentials)?;
        if !key.is_usable(now) {
            return Err(invalid_credentials());
        }
        state.meta.touch_api_key(key.id).await?;
        (key.user_id, Credential::ApiKey { key_id: key.id, scopes: key.scopes })
    } else {
        let claims = state.tokens.verify(token).ok_or_else(invalid_credentials)?;
        let session = state.meta.get_session(claims.sid).await?.ok_or_else(invalid_credentials)?;
        if !session.is_live(now) || session.user_id != claims.sub {
            return Err(invalid_credentials());
        }
        (session.user_id, Credential::Session { session_id: session.id })
    };
    let user = state.meta.get_user(user_id).await?.ok_or_else(invalid_credentials)?;
    if user.status != UserStatus::Active {
        return Err(invalid_credentials());
    }
    Ok(Principal { user_id: user.id, org_id: user.org_id, role: user.role, credential })
}

/// Extracts the authenticated principal; 401 when the request carries no credential.
pub struct Auth(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Auth)
            .ok_or_else(|| ApiError::unauthorized("Missing bearer token in the Authorization header"))
    }
}

/// Where a request came from, for the audit trail.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub client_ip: IpAddr,
    pub request_id: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<RequestMeta>().cloned().ok_or_else(|| ApiError::internal("request metadata missing"))
    }
}

/// Token response for login, onboarding and accepted invitations.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    #[schema(example = "bearer")]
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: i64,
    pub expires_at: DateTime<Utc>,
}

pub async fn start_session(state: &AppState, user_id: Uuid, org_id: Uuid) -> Result<TokenResponse, ApiError> {
    let ttl = chrono::Duration::from_std(state.config.session_ttl).map_err(ApiError::internal)?;
    let session = state.meta.create_session(user_id, org_id, Utc::now() + ttl).await?;
    state.meta.record_sign_in(user_id).await?;
    Ok(TokenResponse {
        access_token: state.tokens.issue(&session),
        token_type: "bearer",
        expires_in: ttl.num_seconds(),
        expires_at: session.expires_at,
    })
}
