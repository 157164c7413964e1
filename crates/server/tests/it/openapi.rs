use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::TestServer;

/// Every route the server has, as (method, path). Kept by hand on purpose: a route added
/// without documentation, or documentation without a route, fails this test.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/health"),
    ("post", "/v1/auth/onboard"),
    ("post", "/v1/auth/login"),
    ("post", "/v1/auth/logout"),
    ("post", "/v1/auth/accept-invite"),
    ("get", "/v1/users/me"),
    ("get", "/v1/organisations/me"),
    ("get", "/v1/organisations/{organisation_id}"),
    ("put", "/v1/organisations/{organisation_id}"),
    ("get", "/v1/organisations/{organisation_id}/users"),
    ("post", "/v1/organisations/{organisation_id}/invite"),
    ("put", "/v1/organisations/{organisation_id}/users/{user_id}/role"),
    ("delete", "/v1/organisations/{organisation_id}/users/{user_id}/deactivate"),
    ("delete", "/v1/organisations/{organisation_id}/users/{user_id}"),
    ("post", "/v1/api-keys"),
    ("get", "/v1/api-keys"),
    ("get", "/v1/api-keys/{key_id}"),
    ("patch", "/v1/api-keys/{key_id}"),
    ("delete", "/v1/api-keys/{key_id}"),
    ("get", "/v1/audit"),
    ("post", "/v1/tables/infer"),
    ("post", "/v1/tables/{catalog}/{schema}/{table}/import"),
    ("get", "/v1/jobs"),
    ("get", "/v1/jobs/{job_id}"),
    ("post", "/v1/webhooks"),
    ("get", "/v1/webhooks"),
    ("get", "/v1/webhooks/{webhook_id}"),
    ("patch", "/v1/webhooks/{webhook_id}"),
    ("delete", "/v1/webhooks/{webhook_id}"),
    ("post", "/v1/webhooks/{webhook_id}/test"),
    ("get", "/v1/webhooks/{webhook_id}/deliveries"),
    ("post", "/v1/catalogs"),
    ("get", "/v1/catalogs"),
    ("delete", "/v1/catalogs/{catalog}"),
    ("post", "/v1/catalogs/{catalog}/schemas"),
    ("get", "/v1/catalogs/{catalog}/schemas"),
    ("delete", "/v1/catalogs/{catalog}/schemas/{schema}"),
    ("get", "/v1/tables"),
    ("post", "/v1/tables/{catalog}/{schema}/{table}"),
    ("get", "/v1/tables/{catalog}/{schema}/{table}"),
    ("delete", "/v1/tables/{catalog}/{schema}/{table}"),
    ("get", "/v1/tables/{catalog}/{schema}/{table}/history"),
    ("put", "/v1/tables/{catalog}/{schema}/{table}/rollback/{version}"),
    ("get", "/v1/tables/{catalog}/{schema}/{table}/export"),
    ("get", "/v1/tables/{catalog}/{schema}/{table}/search/{term}"),
    ("get", "/v1/tables/{catalog}/{schema}/{table}/rows"),
    ("post", "/v1/tables/{catalog}/{schema}/{table}/rows"),
    ("patch", "/v1/tables/{catalog}/{schema}/{table}/rows"),
    ("delete", "/v1/tables/{catalog}/{schema}/{table}/rows"),
    ("patch", "/v1/tables/{catalog}/{schema}/{table}"),
    ("post", "/v1/tables/{catalog}/{schema}/{table}/columns"),
    ("patch", "/v1/tables/{catalog}/{schema}/{table}/columns/{column}"),
    ("delete", "/v1/tables/{catalog}/{schema}/{table}/columns/{column}"),
    ("put", "/v1/tables/{catalog}/{schema}/{table}/fields/metadata"),
    ("get", "/v1/tables/{catalog}/{schema}/{table}/audit"),
    ("post", "/v1/tables/{catalog}/{schema}/{table}/constraints"),
    ("delete", "/v1/tables/{catalog}/{schema}/{table}/constraints/{name}"),
    ("post", "/v1/tables/{catalog}/{schema}/{table}/enums/check"),
    ("get", "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain"),
    ("delete", "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain"),
    ("put", "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/fixed"),
    ("put", "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/hierarchical/inline"),
    ("put", "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/hierarchical/derived"),
    ("put", "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/hierarchical/table"),
    ("put", "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/reference"),
    ("post", "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/values"),
    ("put", "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/values"),
    ("delete", "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/values/{value}"),
    ("post", "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/parents"),
    ("delete", "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/parents/{parent}"),
    ("post", "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/parents/{parent}/children"),
    ("put", "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/parents/{parent}/children"),
    ("delete", "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/domain/parents/{parent}/children/{child}"),
    ("get", "/v1/tables/{catalog}/{schema}/{table}/columns/{column}/allowed-values"),
    ("post", "/v1/sql"),
];

#[tokio::test]
async fn the_document_covers_every_route_with_schemas_and_errors() {
    let s = TestServer::start().await;
    let doc: Value = s.client.get(s.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert((method.clone(), path.clone()));
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.keys().any(|k| k.starts_with('2')), "{method} {path} documents no success");
            for code in ["429", "500"] {
                assert_eq!(
                    responses[code]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
                    "{method} {path} {code}"
                );
            }
            if op.get("security").is_some() {
                for code in ["401", "403", "404"] {
                    assert!(responses.contains_key(code), "{method} {path} lacks {code}");
                }
            }
            if op.get("requestBody").is_some() {
                for code in ["400", "413", "415"] {
                    assert!(responses.contains_key(code), "{method} {path} lacks {code}");
                }
                let content = &op["requestBody"]["content"];
                let schema = if content.get("multipart/form-data").is_some() {
                    &content["multipart/form-data"]["schema"]
                } else {
                    &content["application/json"]["schema"]
                };
                assert!(schema.is_object(), "{method} {path} documents no body schema");
            }
        }
    }
    let expected: BTreeSet<_> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, expected);
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in
        ["ErrorBody", "FieldError", "CreateApiKeyRequest", "CreateApiKeyResponse", "OrganisationResponse", "RoleName"]
    {
        assert!(schemas.contains_key(name), "{name}");
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}

#[tokio::test]
async fn the_interactive_viewer_is_served_from_the_binary() {
    let s = TestServer::start().await;
    let res = s.client.get(s.url("/docs/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    for asset in ["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/swagger-initializer.js"] {
        let res = s.client.get(s.url(asset)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{asset}");
        let body = res.text().await.unwrap();
        assert!(body.len() > 100, "{asset}");
        if asset.ends_with("initializer.js") {
            assert!(body.contains("/openapi.json"), "the viewer loads our document: {body}");
        }
    }
    // No asset points at a CDN: the machine may be offline.
    assert!(!html.contains("https://"), "{html}");
}
