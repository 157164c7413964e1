//! HTTP handlers, one module per resource. Each handler authenticates through the
//! [`crate::auth::Auth`] extractor, asks [`lakeward_meta::access::authorize`] once,
//! does its work, and records an audit event for every mutation.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod catalogs;
pub mod clones;
pub mod columns;
pub mod compare;
pub mod constraints;
pub mod diffs;
pub mod domains;
pub mod grants;
pub mod health;
pub mod imports;
pub mod inventory;
pub mod jobs;
pub mod maintenance;
pub mod metrics;
pub mod organisations;
pub mod rows;
pub mod sql;
pub mod storages;
pub mod tables;
pub mod teams;
pub mod users;
pub mod webhooks;

use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::body_limit;
use crate::error::{ApiError, ApiResult};
use crate::state::SharedState;

pub fn router(limits: &crate::config::Limits) -> OpenApiRouter<SharedState> {
    // JSON bodies are parsed in memory: they get the JSON limit.
    let json = OpenApiRouter::new()
        .merge(catalogs::router())
        .merge(clones::router())
        .merge(diffs::router())
        .merge(compare::router())
        .merge(inventory::router())
        .merge(maintenance::router())
        .merge(tables::router())
        .merge(domains::router())
        .merge(columns::router())
        .merge(constraints::router())
        .merge(sql::router())
        .merge(health::router())
        .merge(metrics::router())
        .merge(auth::router())
        .merge(users::router())
        .merge(organisations::router())
        .merge(teams::router())
        .merge(grants::router())
        .merge(api_keys::router())
        .merge(audit::router())
        .merge(jobs::router())
        .merge(storages::router())
        .merge(webhooks::router());
    // Row writes and imports carry whole files (large ones are spooled to disk): they get
    // the upload limit.
    let uploads = OpenApiRouter::new().merge(rows::router()).merge(imports::router()).merge(storages::upload_router());
    body_limit::limit(json, limits.max_body_bytes).merge(body_limit::limit(uploads, limits.max_upload_bytes))
}

/// Ids in paths: anything that is not a UUID names nothing, so it is a 404 like any
/// other id that names nothing.
pub fn parse_id(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found())
}

/// `{"success": true, "message": "..."}` for actions with nothing else to return.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuccessResponse {
    pub success: bool,
    pub message: String,
}

impl SuccessResponse {
    pub fn new(message: impl Into<String>) -> axum::Json<Self> {
        axum::Json(Self { success: true, message: message.into() })
    }
}

/// Simple checks shared by the identity handlers.
pub mod validate {
    use crate::error::{ApiError, ApiResult};

    pub const MIN_PASSWORD_LEN: usize = 8;
    const MAX_PASSWORD_LEN: usize = 1024;

    pub fn email(field: &str, raw: &str) -> ApiResult<()> {
        let raw = raw.trim();
        let ok = raw.len() <= 254
            && raw.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
            })
            && !raw.chars().any(|c| c.is_whitespace() || c.is_control())
            && raw.matches('@').count() == 1;
        if ok { Ok(()) } else { Err(ApiError::invalid_field(field, "must be a valid email address")) }
    }

    pub fn password(field: &str, raw: &str) -> ApiResult<()> {
        if raw.chars().count() < MIN_PASSWORD_LEN {
            return Err(ApiError::invalid_field(field, format!("must be at least {MIN_PASSWORD_LEN} characters")));
        }
        if raw.len() > MAX_PASSWORD_LEN {
            return Err(ApiError::invalid_field(field, format!("must be at most {MAX_PASSWORD_LEN} bytes")));
        }
        Ok(())
    }

    /// A display name: trimmed, non-empty, bounded, no control characters.
    pub fn name(field: &str, raw: &str, max: usize) -> ApiResult<String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ApiError::invalid_field(field, format!("{field} is required")));
        }
        if trimmed.chars().count() > max {
            return Err(ApiError::invalid_field(field, format!("must be at most {max} characters")));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ApiError::invalid_field(field, "must not contain control characters"));
        }
        Ok(trimmed.to_owned())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn emails() {
            for ok in ["a@b.co", "first.last+tag@example.org"] {
                assert!(email("email", ok).is_ok(), "{ok}");
            }
            for bad in ["", "a", "a@", "@b.co", "a@b", "a b@c.de", "a@@b.co", "a@b.co.", "a@.b.co", "a\n@b.co"] {
                assert_eq!(email("email", bad).unwrap_err().details[0].field, "email", "{bad:?}");
            }
        }

        #[test]
        fn names_and_passwords() {
            assert_eq!(name("name", "  Acme  ", 10).unwrap(), "Acme");
            assert!(name("name", "   ", 10).is_err());
            assert!(name("name", "a\u{7}b", 10).is_err());
            assert!(name("name", &"x".repeat(11), 10).is_err());
            assert!(password("password", "short").is_err());
            assert!(password("password", "long enough").is_ok());
        }
    }
}
