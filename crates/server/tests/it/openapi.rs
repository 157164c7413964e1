use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::TestServer;

/// Every route the server has, as (method, path). Kept by hand on purpose: a route added
/// without documentation, or documentation without a route, fails this test.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/health"),
    ("get", "/v1/health/ready"),
    ("get", "/metrics"),
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
    ("post", "/v1/teams"),
    ("get", "/v1/teams"),
    ("get", "/v1/teams/{team_id}"),
    ("patch", "/v1/teams/{team_id}"),
    ("delete", "/v1/teams/{team_id}"),
    ("post", "/v1/teams/{team_id}/members"),
    ("delete", "/v1/teams/{team_id}/members/{user_id}"),
    ("post", "/v1/grants"),
    ("get", "/v1/grants"),
    ("delete", "/v1/grants/{grant_id}"),
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
    ("delete", "/v1/jobs/{job_id}"),
    ("get", "/v1/jobs/{job_id}/events"),
    ("post", "/v1/clones"),
    ("post", "/v1/compare"),
    ("post", "/v1/clones/{job_id}/rollback"),
    ("get", "/v1/tables/{catalog}/{schema}/{table}/lineage"),
    ("get", "/v1/tables/{catalog}/{schema}/{table}/diff"),
    ("post", "/v1/tables/{catalog}/{schema}/{table}/vacuum"),
    ("post", "/v1/tables/{catalog}/{schema}/{table}/optimize"),
    ("get", "/v1/tables/{catalog}/{schema}/{table}/storage-metrics"),
    ("post", "/v1/webhooks"),
    ("get", "/v1/webhooks"),
    ("get", "/v1/webhooks/{webhook_id}"),
    ("patch", "/v1/webhooks/{webhook_id}"),
    ("delete", "/v1/webhooks/{webhook_id}"),
    ("post", "/v1/webhooks/{webhook_id}/test"),
    ("get", "/v1/webhooks/{webhook_id}/deliveries"),
    ("get", "/v1/webhooks/events"),
    ("post", "/v1/catalogs"),
    ("get", "/v1/catalogs"),
    ("delete", "/v1/catalogs/{catalog}"),
    ("post", "/v1/catalogs/{catalog}/schemas"),
    ("get", "/v1/catalogs/{catalog}/schemas"),
    ("get", "/v1/catalogs/{catalog}/stats"),
    ("get", "/v1/catalogs/{catalog}/search"),
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
    ("post", "/v1/graphql"),
    ("get", "/v1/graphql"),
    ("get", "/v1/graphql/assets/{file}"),
    ("post", "/v1/storages/s3"),
    ("post", "/v1/storages/az"),
    ("post", "/v1/storages/gcs"),
    ("post", "/v1/storages/uploads"),
    ("get", "/v1/storages/configs"),
    ("get", "/v1/storages/configs/{config_id}"),
    ("patch", "/v1/storages/configs/{config_id}"),
    ("delete", "/v1/storages/configs/{config_id}"),
    ("get", "/v1/storages/configs/{config_id}/test"),
    ("get", "/v1/storages/tables"),
    ("get", "/v1/storages/configs/{config_id}/objects"),
    ("delete", "/v1/storages/configs/{config_id}/objects"),
    ("get", "/v1/storages/configs/{config_id}/objects/download"),
];

#[tokio::test]
async fn the_document_covers_every_route_with_schemas_and_errors() {
    let s = TestServer::start().await;
    let doc: Value = s.client.get(s.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert((method.clone(), path.clone()));
            let id = op["operationId"].as_str().unwrap_or_default().to_owned();
            assert!(operation_ids.insert(id.clone()), "{method} {path}: operation id `{id}` is not unique");
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.keys().any(|k| k.starts_with('2')), "{method} {path} documents no success");
            for (code, response) in responses {
                let described = response["description"].as_str().is_some_and(|d| !d.is_empty());
                assert!(described, "{method} {path} {code} has no description, which OpenAPI requires");
            }
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

async fn document(s: &TestServer) -> Value {
    s.client.get(s.url("/openapi.json")).send().await.unwrap().json().await.unwrap()
}

/// The names of an operation's parameters that are `in: location`.
fn parameters<'a>(op: &'a Value, location: &str) -> Vec<&'a str> {
    let all = op.get("parameters").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    all.iter().filter(|p| p["in"] == location).map(|p| p["name"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn every_path_parameter_is_declared_by_every_operation_of_its_path() {
    let s = TestServer::start().await;
    let doc = document(&s).await;
    let mut faults = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let in_template: BTreeSet<&str> = path.split('{').skip(1).map(|rest| rest.split_once('}').unwrap().0).collect();
        for (method, op) in item.as_object().unwrap() {
            let declared = parameters(op, "path");
            let unique: BTreeSet<&str> = declared.iter().copied().collect();
            if unique != in_template || unique.len() != declared.len() {
                faults.push(format!("{method} {path}: declares {declared:?}"));
            }
            let optional = op["parameters"].as_array().into_iter().flatten().filter(|p| p["in"] == "path");
            for p in optional.filter(|p| p["required"] != true) {
                faults.push(format!("{method} {path}: path parameter {} is not required", p["name"]));
            }
            let all = op.get("parameters").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            let keys: BTreeSet<(&str, &str)> =
                all.iter().map(|p| (p["name"].as_str().unwrap(), p["in"].as_str().unwrap())).collect();
            if keys.len() != all.len() {
                faults.push(format!("{method} {path}: a parameter is declared twice"));
            }
        }
    }
    assert!(faults.is_empty(), "{}", faults.join("\n"));
}

#[tokio::test]
async fn row_operations_document_the_query_grammar_headers_and_formats() {
    let s = TestServer::start().await;
    let doc = document(&s).await;
    let rows = &doc["paths"]["/v1/tables/{catalog}/{schema}/{table}/rows"];

    let read = &rows["get"];
    assert_eq!(
        parameters(read, "query"),
        ["select", "filters", "or", "and", "order", "limit", "offset", "version", "as_of"]
    );
    assert_eq!(parameters(read, "header"), ["Range", "Range-Unit", "Prefer"]);
    let filters = read["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "filters").unwrap();
    assert_eq!((&filters["style"], &filters["explode"]), (&json!("form"), &json!(true)), "{filters}");
    assert_eq!(filters["schema"]["additionalProperties"]["type"], "string", "{filters}");
    // What `Accept` chooses is documented as the response's media types.
    let answer = &read["responses"]["200"];
    let formats: BTreeSet<&str> = answer["content"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        formats,
        BTreeSet::from([
            "application/json",
            "application/vnd.apache.arrow.stream",
            "application/vnd.apache.parquet",
            "application/x-ndjson",
            "text/csv"
        ])
    );
    assert!(answer["headers"].get("Content-Range").is_some(), "{answer}");
    assert!(read["responses"].get("406").is_some());

    let insert = &rows["post"];
    let bodies: BTreeSet<&str> =
        insert["requestBody"]["content"].as_object().unwrap().keys().map(String::as_str).collect();
    let formats = ["application/json", "application/vnd.apache.arrow.stream", "application/x-ndjson", "text/csv"];
    assert_eq!(bodies, BTreeSet::from(formats));
    assert_eq!(parameters(insert, "header"), ["Prefer", "Idempotency-Key"]);

    for method in ["patch", "delete"] {
        let write = &rows[method];
        assert_eq!(parameters(write, "query"), ["filters", "or", "and", "all"], "{method}");
        assert_eq!(parameters(write, "header"), ["Prefer"], "{method}");
    }
}
