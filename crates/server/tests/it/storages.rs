//! Storage connections without an object store to talk to: every request is checked
//! before anything is contacted, a store that does not answer is refused with its checks,
//! and permissions and tenants hold. What needs a store (discovery, objects, tables on a
//! connection) is tested against the S3 and Azure emulators in tests/interop/test_storages.py.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestServer, forbidden, invalid, not_found};

fn s3(extra: serde_json::Value) -> serde_json::Value {
    let mut body = json!({
        "accessKeyId": "AKIAEXAMPLEKEY12345", "secretKey": "very-secret-value", "region": "us-east-1",
        "bucketName": "lake", "endpoint": "http://127.0.0.1:1", "basePath": "tables",
    });
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    body
}

#[tokio::test]
async fn bad_requests_are_refused_before_any_store_is_contacted() {
    let server = TestServer::start().await;
    let admin = server.onboard("Acme", "ada@acme.test").await;
    let t = Some(admin.token.as_str());
    let cases = [
        (s3(json!({ "bucketName": "A" })), "bucketName"),
        (s3(json!({ "endpoint": "ftp://x" })), "endpoint"),
        (s3(json!({ "basePath": "../up" })), "basePath"),
        (s3(json!({ "basePath": "a//b" })), "basePath"),
        (s3(json!({ "catalogName": "not an identifier" })), "catalogName"),
        (s3(json!({ "secretKey": null })), "secretKey"),
    ];
    for (body, field) in cases {
        let (status, answer) = server.call(Method::POST, "/v1/storages/s3", t, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["details"][0]["field"], field, "{answer}");
    }
    let (status, answer) = server.call(Method::POST, "/v1/storages/s3", t, Some(s3(json!({ "bucket": "x" })))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["details"][0]["message"].as_str().unwrap().contains("unknown field `bucket`"), "{answer}");
    let (status, answer) = server
        .call(
            Method::POST,
            "/v1/storages/az",
            t,
            Some(json!({ "accountName": "a", "container": "cc", "useFabricEndpoint": true })),
        )
        .await;
    assert_eq!(
        (status, answer),
        (StatusCode::BAD_REQUEST, invalid("useFabricEndpoint", "Fabric (OneLake) endpoints are not supported"))
    );
    let (status, answer) = server
        .call(Method::POST, "/v1/storages/gcs", t, Some(json!({ "bucket": "lake", "serviceAccountKey": "{not json" })))
        .await;
    assert_eq!(
        (status, answer),
        (StatusCode::BAD_REQUEST, invalid("serviceAccountKey", "must be the key's JSON document"))
    );
    let (_, configs) = server.get("/v1/storages/configs", &admin.token).await;
    assert_eq!(configs, json!({ "configs": [] }));
}

#[tokio::test]
async fn an_unreachable_store_is_refused_with_its_checks_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let admin = server.onboard("Acme", "ada@acme.test").await;
    let (status, answer) = server.call(Method::POST, "/v1/storages/s3", Some(&admin.token), Some(s3(json!({})))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["message"], "the connection test failed: reachable");
    let checks: Vec<(&str, bool, bool)> = answer["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["ok"].as_bool().unwrap(), c["skipped"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        checks,
        [
            ("reachable", false, false),
            ("list", false, true),
            ("write", false, true),
            ("read", false, true),
            ("delete", false, true)
        ]
    );
    assert!(!answer["checks"][0]["reason"].as_str().unwrap().is_empty());
    assert!(!answer.to_string().contains("very-secret-value"), "{answer}");
    let (_, configs) = server.get("/v1/storages/configs", &admin.token).await;
    assert_eq!(configs, json!({ "configs": [] }));
    let (_, catalogs) = server.get("/v1/catalogs", &admin.token).await;
    assert_eq!(catalogs.as_array().map(Vec::len), Some(0), "{catalogs}");
    // The audit trail records no connection.
    let (_, audit) = server.get("/v1/audit?action=storage.connection_created", &admin.token).await;
    assert!(!audit.to_string().contains("storage.connection_created"), "{audit}");
}

#[tokio::test]
async fn connections_follow_roles_and_other_organisations_see_nothing() {
    let server = TestServer::start().await;
    let admin = server.onboard("Acme", "ada@acme.test").await;
    let viewer = server.add_member(&admin, "vic@acme.test", "viewer").await;
    let editor = server.add_member(&admin, "eve@acme.test", "editor").await;
    let (status, answer) = server.call(Method::POST, "/v1/storages/s3", Some(&editor.token), Some(s3(json!({})))).await;
    assert_eq!((status, answer), (StatusCode::FORBIDDEN, forbidden("connections:create")));
    let (status, _) = server.get("/v1/storages/configs", &viewer.token).await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = server.get("/v1/storages/tables?with_discovery=true", &viewer.token).await;
    assert_eq!((status, answer), (StatusCode::FORBIDDEN, forbidden("connections:create")));
    let id = "01a23906-968c-7330-87f4-7aaba1db62e1";
    for (method, path) in [
        (Method::GET, format!("/v1/storages/configs/{id}")),
        (Method::GET, format!("/v1/storages/configs/{id}/test")),
        (Method::GET, format!("/v1/storages/configs/{id}/objects")),
        (Method::GET, format!("/v1/storages/configs/{id}/objects/download?path=a.csv")),
        (Method::DELETE, format!("/v1/storages/configs/{id}")),
        (Method::GET, "/v1/storages/configs/not-a-uuid".to_owned()),
    ] {
        let (status, answer) = server.call(method.clone(), &path, Some(&admin.token), None).await;
        assert_eq!((status, answer), (StatusCode::NOT_FOUND, not_found()), "{method} {path}");
    }
    let (status, answer) = server
        .call(Method::DELETE, &format!("/v1/storages/configs/{id}/objects?path=a.csv"), Some(&viewer.token), None)
        .await;
    assert_eq!((status, answer), (StatusCode::FORBIDDEN, forbidden("objects:delete")));
}

#[tokio::test]
async fn the_warehouse_cannot_be_connected() {
    let server = TestServer::start_with(|c| {
        c.warehouse = lakeward_engine::Warehouse::parse("s3://lake/warehouse/").unwrap();
    })
    .await;
    let admin = server.onboard("Acme", "ada@acme.test").await;
    for base in ["", "warehouse", "warehouse/inside"] {
        let (status, answer) = server
            .call(Method::POST, "/v1/storages/s3", Some(&admin.token), Some(s3(json!({ "basePath": base }))))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{base}: {answer}");
    }
}
