//! The OpenAPI document: paths come from the handlers' `#[utoipa::path]` attributes;
//! this module adds what every operation shares (the bearer scheme and error responses).

use axum::http::StatusCode;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

use crate::error::{ErrorBody, FieldError};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Lakeward",
        description = "Governed Delta Lake tables behind one API. Every error has the shape of `ErrorBody`."
    ),
    components(schemas(ErrorBody, FieldError)),
    tags(
        (name = "health", description = "Liveness"),
        (name = "operations", description = "Metrics for monitoring (Prometheus)"),
        (name = "auth", description = "Onboarding, sign-in and sign-out, invitations"),
        (name = "users", description = "The signed-in user"),
        (name = "organisations", description = "The organisation and its members"),
        (name = "api-keys", description = "API keys for programmatic access"),
        (name = "teams", description = "Teams of members, which grants can name"),
        (name = "grants", description = "Privileges on catalogs, schemas and tables for users and teams"),
        (name = "audit", description = "The audit trail"),
        (name = "catalogs", description = "Catalogs and schemas"),
        (name = "tables", description = "Delta tables: create, describe, history, rollback, export, search"),
        (name = "rows", description = "Rows through the PostgREST grammar"),
        (name = "sql", description = "Read-only SQL"),
        (name = "webhooks", description = "Signed deliveries of audited events; `GET /v1/webhooks/events` lists them"),
        (name = "jobs", description = "Long work: status, progress, Server-Sent Events, cancel"),
    )
)]
pub struct ApiDoc;

/// Adds the bearer security scheme and the error responses each operation can give.
pub fn finish(api: &mut OpenApi) {
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("A session token from /v1/auth/login, or an API key (lw_live_...)"))
                .build(),
        ),
    );
    for item in api.paths.paths.values_mut() {
        for op in
            [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten()
        {
            add_errors(op);
            describe_responses(op);
        }
    }
}

fn add_errors(op: &mut Operation) {
    let authenticated = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut errors: Vec<(&str, &str)> =
        vec![("429", "Rate limit exceeded; see Retry-After"), ("500", "Unexpected error")];
    if op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
        errors.push(("400", "Invalid request; `details` names the fields at fault"));
    }
    if op.request_body.is_some() {
        errors.push(("413", "Request body over the configured limit"));
        errors.push(("415", "Content-Type is not application/json"));
    }
    if authenticated {
        errors.push(("401", "Missing, invalid, expired or revoked credentials"));
        errors.push(("403", "Role or API key scopes do not allow this; `requiredScope` names the scope"));
        errors.push(("404", "Not found, or not visible to the caller's organisation"));
    }
    for (status, description) in errors {
        op.responses.responses.entry(status.to_owned()).or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                    )
                    .build(),
            )
        });
    }
}

/// OpenAPI requires a description on every response; one documented with a body only
/// gets its status's reason phrase ("OK", "Created").
fn describe_responses(op: &mut Operation) {
    for (status, response) in op.responses.responses.iter_mut() {
        if let RefOr::T(response) = response
            && response.description.is_empty()
        {
            let reason = status.parse().ok().and_then(|code| StatusCode::from_u16(code).ok()?.canonical_reason());
            response.description = reason.unwrap_or("Success").to_owned();
        }
    }
}
