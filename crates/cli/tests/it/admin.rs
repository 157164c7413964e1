use serde_json::Value;

use crate::support::{lakeward, run_ok};

/// `lakeward admin` sets up an organisation, a user and a key offline; the server then
/// accepts that key and password.
#[tokio::test]
async fn offline_setup_is_honoured_by_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let org: Value = serde_json::from_str(&run_ok(
        lakeward(cwd)
            .args(["admin", "create-org", "--name", "Acme", "--email", "ada@example.com"])
            .env("LAKEWARD_ADMIN_PASSWORD", "correct horse"),
    ))
    .unwrap();
    let user: Value = serde_json::from_str(&run_ok(lakeward(cwd).args([
        "admin",
        "create-user",
        "--org",
        "Acme",
        "--email",
        "bob@example.com",
        "--role",
        "builder",
        "--password",
        "bob password",
    ])))
    .unwrap();
    assert_eq!(user["organisation_id"], org["organisation_id"]);
    let key = run_ok(lakeward(cwd).args([
        "admin",
        "create-api-key",
        "--email",
        "bob@example.com",
        "--name",
        "ci",
        "--scopes",
        "read,apikeys:read",
    ]));
    let key = key.trim();
    assert!(key.starts_with("lw_live_") && key.len() == 48, "{key}");

    // Refusals: a scope above the role, an unknown organisation, a short password.
    let out = lakeward(cwd)
        .args(["admin", "create-api-key", "--email", "bob@example.com", "--name", "x", "--scopes", "org:update"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not hold the scope `org:update`"));
    let out = lakeward(cwd)
        .args(["admin", "create-user", "--org", "Nope", "--email", "c@x.io", "--password", "long enough"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no organisation `Nope`"));
    let out = lakeward(cwd)
        .args(["admin", "create-org", "--name", "B", "--email", "b@x.io", "--password", "short"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 8 characters"));

    // The running server, on the same data directory.
    let args = lakeward::settings::ConfigArgs {
        data_dir: Some(cwd.join("lakeward-data")),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        ..Default::default()
    };
    let config = lakeward::settings::resolve(&args).unwrap();
    let server = lakeward_server::start(config).await.unwrap();
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();
    let me: Value =
        client.get(format!("{base}/v1/users/me")).bearer_auth(key).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["email"], "bob@example.com");
    assert_eq!(me["role"], "builder");
    assert_eq!(me["auth"]["scopes"].as_array().unwrap().len(), 10, "{me}");
    let login = client
        .post(format!("{base}/v1/auth/login"))
        .json(&serde_json::json!({ "email": "ada@example.com", "password": "correct horse" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let token = login.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let audit: Value = client
        .get(format!("{base}/v1/audit?actor_id="))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit["statusCode"], 400, "an empty id is not an id");
    let audit: Value =
        client.get(format!("{base}/v1/audit")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let system: Vec<_> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor_type"] == "system")
        .map(|e| e["action"].clone())
        .collect();
    assert_eq!(system, ["apikey.created", "member.created", "auth.onboard"]);
    server.shutdown().await.unwrap();
}
