//! Webhooks against a real receiver over HTTP: signatures verified independently, retries
//! with backoff on a failing receiver, a hanging receiver that does not slow writes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use hmac::{Hmac, KeyInit, Mac};
use lakeward_server::webhooks::WebhookConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::data::{T, customers, fixed_domain, insert, namespace, sample};
use crate::support::{PASSWORD, TestServer, forbidden, invalid, not_found};

#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: String,
}

/// A receiver on port 0: answers 500 to the first `fail_first` requests, and waits
/// `hang` before answering each.
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(fail_first: usize, hang: Duration) -> Self {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let seen = got.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let seen = seen.clone();
                async move {
                    let n = {
                        let mut all = seen.lock().unwrap();
                        all.push(Received { headers, body });
                        all.len()
                    };
                    tokio::time::sleep(hang).await;
                    if n <= fail_first { AxumStatus::INTERNAL_SERVER_ERROR } else { AxumStatus::NO_CONTENT }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, got }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "only {} of {n} deliveries arrived", got.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Quick retries, and receivers on this machine allowed (they are refused by default).
fn fast(c: &mut lakeward_server::config::ServerConfig) {
    c.webhooks = WebhookConfig {
        timeout: Duration::from_millis(500),
        retry_base: Duration::from_millis(100),
        max_attempts: 3,
        allow_private_targets: true,
    };
}

/// Checks the signature as a receiver would, without Lakeward's code.
fn verify(secret: &str, r: &Received) -> bool {
    let header = r.headers["lakeward-signature"].to_str().unwrap();
    let (t, v1) = header.split_once(',').unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let v1 = v1.strip_prefix("v1=").unwrap();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", r.body).as_bytes());
    let age = chrono::Utc::now().timestamp() - t.parse::<i64>().unwrap();
    hex::encode(mac.finalize().into_bytes()) == v1 && (0..60).contains(&age)
}

async fn deliveries(s: &TestServer, token: &str, id: &str, wanted: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = s.get(&format!("/v1/webhooks/{id}/deliveries"), token).await;
        assert_eq!(status, StatusCode::OK);
        let list = body.as_array().unwrap().clone();
        if wanted(&list) {
            return list;
        }
        assert!(Instant::now() < deadline, "deliveries never reached the expected state: {list:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn subscribed_events_arrive_signed() {
    let s = TestServer::start_with(fast).await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    let receiver = Receiver::start(0, Duration::ZERO).await;
    let (status, hook) = s
        .post(
            "/v1/webhooks",
            Some(t),
            json!({ "url": receiver.url, "events": ["table.created", "row.batch_inserted", "domain.set"], "description": "crm sync" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() == 70, "{secret}");
    let id = hook["id"].as_str().unwrap().to_owned();
    let (_, listed) = s.get("/v1/webhooks", t).await;
    assert_eq!(listed[0]["events"], json!(["table.created", "row.batch_inserted", "domain.set"]));
    assert!(listed[0].get("secret").is_none(), "the secret is shown once only");

    customers(&s, &ada).await;
    assert_eq!(insert(&s, t, sample()).await.0, StatusCode::CREATED);
    let (status, _) = s.call(Method::PATCH, &format!("{T}/rows?id=eq.1"), Some(t), Some(json!({ "name": "A" }))).await;
    assert_eq!(status, StatusCode::OK, "rows.updated is not subscribed");
    fixed_domain(&s, t, "country", &["DE", "FR"]).await;

    let got = receiver.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 3, "nothing unsubscribed arrives");
    let mut events: Vec<(String, Value)> = got
        .iter()
        .map(|r| {
            assert!(verify(&secret, r), "signature of {}", r.body);
            assert!(!verify("whsec_wrong", r));
            let body: Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(r.headers["lakeward-event"], body["event"].as_str().unwrap());
            assert_eq!(body["organisation_id"], json!(ada.org_id));
            assert_eq!(body["target"], json!({ "type": "table", "id": "main.crm.customers" }));
            (body["event"].as_str().unwrap().to_owned(), body["data"].clone())
        })
        .collect();
    events.sort_by_key(|(_, data)| data["version"].as_u64());
    assert_eq!(
        events.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>(),
        ["table.created", "row.batch_inserted", "domain.set"]
    );
    assert_eq!((&events[1].1["rows"], &events[1].1["version"]), (&json!(3), &json!(1)));
    assert_eq!(events[2].1["after"]["type"], "fixed");

    let list = deliveries(&s, t, &id, |l| l.len() == 3 && l.iter().all(|d| d["status"] == "delivered")).await;
    assert!(list.iter().all(|d| d["response_code"] == 204 && d["attempts"] == 1), "{list:?}");
}

#[tokio::test]
async fn failing_receivers_are_retried_with_backoff_then_given_up() {
    let s = TestServer::start_with(fast).await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    let flaky = Receiver::start(2, Duration::ZERO).await;
    let (_, hook) = s
        .post(
            "/v1/webhooks",
            Some(t),
            // Not `*`: the next webhook's creation would be delivered here too.
            json!({ "url": flaky.url, "events": ["table.created", "row.batch_inserted"], "secret": "0123456789abcdef" }),
        )
        .await;
    let flaky_id = hook["id"].as_str().unwrap().to_owned();
    // Nothing listens here: every attempt fails to connect.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", l.local_addr().unwrap())
    };
    let (_, hook) = s.post("/v1/webhooks", Some(t), json!({ "url": closed, "events": ["table.created"] })).await;
    let dead_id = hook["id"].as_str().unwrap().to_owned();

    let started = Instant::now();
    customers(&s, &ada).await;
    let got = flaky.wait_for(3).await;
    assert!(got.iter().all(|r| r.body == got[0].body), "a retry sends the same delivery");
    assert!(verify("0123456789abcdef", &got[2]));
    // 100 ms, then 200 ms of backoff at least.
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    let list =
        deliveries(&s, t, &flaky_id, |l| l.iter().any(|d| d["event"] == "table.created" && d["status"] == "delivered"))
            .await;
    let created = list.iter().find(|d| d["event"] == "table.created").unwrap();
    assert_eq!((&created["attempts"], &created["response_code"]), (&json!(3), &json!(204)));

    let list = deliveries(&s, t, &dead_id, |l| l.len() == 1 && l[0]["status"] == "failed").await;
    assert_eq!(list[0]["attempts"], 3);
    assert_eq!(list[0]["response_code"], Value::Null);
    assert!(
        list[0]["last_error"].as_str().unwrap().contains("connect")
            || list[0]["last_error"].as_str().unwrap().contains("refused"),
        "{list:?}"
    );

    // A ping is sent at once and answered with its record.
    let (status, ping) = s.post(&format!("/v1/webhooks/{flaky_id}/test"), Some(t), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{ping}");
    assert_eq!(
        (&ping["event"], &ping["status"], &ping["response_code"]),
        (&json!("ping"), &json!("delivered"), &json!(204))
    );
    let (status, ping) = s.post(&format!("/v1/webhooks/{dead_id}/test"), Some(t), json!({})).await;
    assert_eq!((status, &ping["status"]), (StatusCode::OK, &json!("failed")));

    // Inactive webhooks receive nothing.
    let (status, _) =
        s.call(Method::PATCH, &format!("/v1/webhooks/{flaky_id}"), Some(t), Some(json!({ "active": false }))).await;
    assert_eq!(status, StatusCode::OK);
    let before = flaky.received().len();
    assert_eq!(insert(&s, t, sample()).await.0, StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(flaky.received().len(), before);
}

#[tokio::test]
async fn a_hanging_receiver_does_not_slow_writes() {
    let s = TestServer::start_with(fast).await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    customers(&s, &ada).await;
    let hanging = Receiver::start(0, Duration::from_secs(30)).await;
    let (_, hook) =
        s.post("/v1/webhooks", Some(t), json!({ "url": hanging.url, "events": ["row.batch_inserted"] })).await;
    let id = hook["id"].as_str().unwrap().to_owned();
    for i in 0..5 {
        let started = Instant::now();
        let (status, _) = insert(&s, t, json!([{ "id": 100 + i }])).await;
        assert_eq!(status, StatusCode::CREATED);
        assert!(started.elapsed() < Duration::from_millis(400), "insert {i} took {:?}", started.elapsed());
    }
    let list = deliveries(&s, t, &id, |l| l.len() == 5 && l.iter().all(|d| d["attempts"].as_i64() >= Some(1))).await;
    assert!(list.iter().all(|d| d["last_error"] == "no answer within 500 ms"), "{list:?}");
}

#[tokio::test]
async fn webhook_requests_are_checked_and_scoped() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    for (body, field, message) in [
        (json!({ "url": "ftp://x/y", "events": ["*"] }), "url", "must be an http:// or https:// URL with a host"),
        (json!({ "url": "http://x/y", "events": [] }), "events", "give at least one event, or `*` for all"),
        (json!({ "url": "http://x/y", "events": ["*"], "secret": "short" }), "secret", "must be 16 to 256 characters"),
    ] {
        let (status, got) = s.post("/v1/webhooks", Some(t), body).await;
        assert_eq!((status, got), (StatusCode::BAD_REQUEST, invalid(field, message)));
    }
    let (status, got) =
        s.post("/v1/webhooks", Some(t), json!({ "url": "http://x/y", "events": ["table.exploded"] })).await;
    assert_eq!((status, &got["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("events[0]")));
    let (_, listed) = s.get("/v1/webhooks", t).await;
    assert_eq!(listed, json!([]), "nothing was created");

    // Subscribed to an event this test causes none of: nothing is sent to that address.
    let (_, hook) =
        s.post("/v1/webhooks", Some(t), json!({ "url": "http://203.0.113.9/x", "events": ["table.created"] })).await;
    let id = hook["id"].as_str().unwrap();
    let editor = s.add_member(&ada, "ed@example.com", "editor").await;
    let (status, body) = s.get("/v1/webhooks", &editor.token).await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden("webhooks:read")));
    let eve = s.onboard("Evil", "eve@example.com").await;
    for (method, path) in [
        (Method::GET, format!("/v1/webhooks/{id}")),
        (Method::PATCH, format!("/v1/webhooks/{id}")),
        (Method::DELETE, format!("/v1/webhooks/{id}")),
        (Method::POST, format!("/v1/webhooks/{id}/test")),
        (Method::GET, format!("/v1/webhooks/{id}/deliveries")),
    ] {
        let body = (method == Method::PATCH).then(|| json!({ "active": false }));
        let (status, got) = s.call(method.clone(), &path, Some(&eve.token), body).await;
        assert_eq!((status, got), (StatusCode::NOT_FOUND, not_found()), "{method} {path}");
    }
    let (_, listed) = s.get("/v1/webhooks", &eve.token).await;
    assert_eq!(listed, json!([]));
    let (status, _) = s.call(Method::DELETE, &format!("/v1/webhooks/{id}"), Some(t), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s.get(&format!("/v1/webhooks/{id}"), t).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, audit) = s.get("/v1/audit?action=webhook.*", t).await;
    assert_eq!(audit["total"], 2, "created and deleted are audited");
}

const PUBLIC_ONLY: &str = "this server sends webhooks only to public addresses";

#[tokio::test]
async fn webhooks_to_internal_addresses_are_refused_by_default() {
    let s = TestServer::start().await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    for (url, address) in [
        ("http://127.0.0.1:8080/hook", "127.0.0.1 is an internal address (loopback)"),
        ("http://10.1.2.3/hook", "10.1.2.3 is an internal address (private)"),
        ("http://172.16.0.1/hook", "172.16.0.1 is an internal address (private)"),
        ("https://192.168.0.10/hook", "192.168.0.10 is an internal address (private)"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is an internal address (link-local)"),
        ("http://0.0.0.0:8080/hook", "0.0.0.0 is an internal address (unspecified)"),
        ("http://[::1]/hook", "::1 is an internal address (loopback)"),
        ("http://[::]/hook", ":: is an internal address (unspecified)"),
        ("http://[fd00::1]/hook", "fd00::1 is an internal address (private)"),
        ("http://[fe80::1]/hook", "fe80::1 is an internal address (link-local)"),
        ("http://[::ffff:127.0.0.1]/hook", "::ffff:127.0.0.1 is an internal address (loopback)"),
        ("http://[::ffff:a9fe:a9fe]/hook", "::ffff:169.254.169.254 is an internal address (link-local)"),
        ("http://[::ffff:192.168.1.1]/hook", "::ffff:192.168.1.1 is an internal address (private)"),
    ] {
        let (status, body) = s.post("/v1/webhooks", Some(t), json!({ "url": url, "events": ["*"] })).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("url", &format!("{address}; {PUBLIC_ONLY}"))));
    }
    // A name is checked by what it resolves to.
    let (status, body) =
        s.post("/v1/webhooks", Some(t), json!({ "url": "http://localhost:9/x", "events": ["*"] })).await;
    assert_eq!((status, &body["details"][0]["field"]), (StatusCode::BAD_REQUEST, &json!("url")));
    let message = body["details"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("`localhost` resolves to ") && message.ends_with(PUBLIC_ONLY), "{message}");

    // Changing a webhook's URL to an internal address is refused too, and changes nothing.
    let (status, hook) = s
        .post("/v1/webhooks", Some(t), json!({ "url": "https://203.0.113.9/hook", "events": ["table.created"] }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let path = format!("/v1/webhooks/{}", hook["id"].as_str().unwrap());
    let change = json!({ "url": "http://[::ffff:10.0.0.1]:9000/x", "active": false });
    let (status, body) = s.call(Method::PATCH, &path, Some(t), Some(change)).await;
    let refused = format!("::ffff:10.0.0.1 is an internal address (private); {PUBLIC_ONLY}");
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("url", &refused)));
    let (_, after) = s.get(&path, t).await;
    assert_eq!((&after["url"], &after["active"]), (&json!("https://203.0.113.9/hook"), &json!(true)));
    let (_, listed) = s.get("/v1/webhooks", t).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (_, audit) = s.get("/v1/audit?action=webhook.*", t).await;
    assert_eq!(audit["total"], 1, "only the accepted creation is audited");
}

#[tokio::test]
async fn deliveries_check_the_address_again_when_they_are_sent() {
    // Registered while the server allowed private targets; then the server refuses them.
    let s = TestServer::start_with(fast).await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = ada.token.clone();
    let receiver = Receiver::start(0, Duration::ZERO).await;
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let mut ids = Vec::new();
    for url in [&receiver.url, &by_name] {
        // Not `*`: the second webhook's creation would reach the receiver through the first.
        let (status, hook) = s.post("/v1/webhooks", Some(&t), json!({ "url": url, "events": ["table.created"] })).await;
        assert_eq!(status, StatusCode::CREATED, "{hook}");
        ids.push(hook["id"].as_str().unwrap().to_owned());
    }
    let s = s.restart_with(|c| c.webhooks.allow_private_targets = false).await;

    let (status, ping) = s.post(&format!("/v1/webhooks/{}/test", ids[0]), Some(&t), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let refused = format!("127.0.0.1 is an internal address (loopback); {PUBLIC_ONLY}");
    assert_eq!((&ping["status"], &ping["last_error"]), (&json!("failed"), &json!(refused)), "{ping}");
    // By name, the check is on what the name resolves to as the delivery connects.
    let (_, ping) = s.post(&format!("/v1/webhooks/{}/test", ids[1]), Some(&t), json!({})).await;
    let error = ping["last_error"].as_str().unwrap();
    assert_eq!(ping["status"], "failed");
    assert!(error.starts_with("cannot reach the receiver: `localhost` resolves to "), "{ping}");
    assert!(error.ends_with(PUBLIC_ONLY), "{ping}");

    customers(&s, &ada).await;
    for id in &ids {
        let list =
            deliveries(&s, &t, id, |l| l.iter().any(|d| d["event"] == "table.created" && d["attempts"] == 1)).await;
        let created = list.iter().find(|d| d["event"] == "table.created").unwrap();
        assert!(created["last_error"].as_str().unwrap().ends_with(PUBLIC_ONLY), "{created}");
    }
    assert_eq!(receiver.received().len(), 0, "nothing reached the receiver");
}

/// The events a webhook can subscribe to, written out by hand: receivers depend on these
/// names, so renaming or dropping one must fail a test.
const SUBSCRIBABLE: &[&str] = &[
    "organisation.renamed",
    "member.invited",
    "member.invite_accepted",
    "member.role_changed",
    "member.deactivated",
    "team.created",
    "team.updated",
    "team.deleted",
    "team.member_added",
    "team.member_removed",
    "grant.created",
    "grant.revoked",
    "member.deleted",
    "apikey.created",
    "apikey.updated",
    "apikey.revoked",
    "webhook.created",
    "webhook.updated",
    "webhook.deleted",
    "catalog.created",
    "catalog.dropped",
    "schema.created",
    "schema.dropped",
    "table.created",
    "table.updated",
    "table.deleted",
    "table.rolled_back",
    "table.cloned",
    "clone.rolled_back",
    "table.vacuumed",
    "table.optimized",
    "row.batch_inserted",
    "rows.upserted",
    "rows.updated",
    "rows.deleted",
    "domain.set",
    "domain.values_changed",
    "domain.removed",
    "constraint.added",
    "constraint.dropped",
    "storage.connection_created",
    "storage.connection_updated",
    "storage.connection_deleted",
    "storage.connection_tested",
    "storage.tables_discovered",
    "storage.objects_uploaded",
    "storage.object_deleted",
    "job.cancelled",
];

#[tokio::test]
async fn every_subscribable_event_is_listed_with_its_meaning_and_can_be_subscribed() {
    let s = TestServer::start_with(fast).await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    let (status, listed) = s.get("/v1/webhooks/events", t).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let listed = listed.as_array().unwrap();
    let names: Vec<&str> = listed.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, SUBSCRIBABLE);
    assert!(listed.iter().all(|e| e["description"].as_str().is_some_and(|d| d.ends_with('.'))), "{listed:?}");
    let created = listed.iter().find(|e| e["name"] == "table.created").unwrap();
    assert_eq!(created, &json!({ "name": "table.created", "description": "A table was created." }));

    // Every one of them is accepted (the receiver is local, so nothing leaves the machine).
    let receiver = Receiver::start(0, Duration::ZERO).await;
    let (status, hook) = s.post("/v1/webhooks", Some(t), json!({ "url": receiver.url, "events": SUBSCRIBABLE })).await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    assert_eq!(hook["events"], json!(SUBSCRIBABLE));

    // A name not in the list, or one the audit trail alone records, is refused by position,
    // naming the events there are.
    let events = SUBSCRIBABLE.join(", ");
    let (status, body) = s
        .post("/v1/webhooks", Some(t), json!({ "url": receiver.url, "events": ["table.created", "table.exploded"] }))
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, invalid("events[1]", &format!("unknown event `table.exploded`; events: {events}")))
    );
    let path = format!("/v1/webhooks/{}", hook["id"].as_str().unwrap());
    let (status, body) = s.call(Method::PATCH, &path, Some(t), Some(json!({ "events": ["auth.login"] }))).await;
    let audit_only = format!("`auth.login` is recorded in the audit trail only; events: {events}");
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, invalid("events[0]", &audit_only)));
    let (_, after) = s.get(&path, t).await;
    assert_eq!(after["events"], json!(SUBSCRIBABLE), "a refused change changes nothing");

    let editor = s.add_member(&ada, "ed@example.com", "editor").await;
    assert_eq!(s.get("/v1/webhooks/events", &editor.token).await, (StatusCode::FORBIDDEN, forbidden("webhooks:read")));
    let (status, _) = s.call(Method::GET, "/v1/webhooks/events", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Catalog and schema changes reach webhooks (they were audit-only before), `*` means
/// every subscribable event, and sign-ins are never sent.
#[tokio::test]
async fn catalog_changes_are_delivered_and_sign_ins_are_not() {
    let s = TestServer::start_with(fast).await;
    let ada = s.onboard("Acme", "ada@example.com").await;
    let t = &ada.token;
    // `*` first: it then hears of both creations, whenever their deliveries are queued.
    let everything = Receiver::start(0, Duration::ZERO).await;
    let (status, all) = s.post("/v1/webhooks", Some(t), json!({ "url": everything.url, "events": ["*"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{all}");
    let catalogs = Receiver::start(0, Duration::ZERO).await;
    let (status, hook) = s
        .post("/v1/webhooks", Some(t), json!({ "url": catalogs.url, "events": ["catalog.created", "schema.created"] }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");

    namespace(&s, &ada).await;
    assert_eq!(s.login("ada@example.com", PASSWORD).await.0, StatusCode::OK);
    assert_eq!(s.login("ada@example.com", "wrong password").await.0, StatusCode::UNAUTHORIZED);

    let events = |got: Vec<Received>| -> Vec<(String, Value)> {
        let mut events: Vec<(String, Value)> = got
            .iter()
            .map(|r| {
                let body: Value = serde_json::from_str(&r.body).unwrap();
                (body["event"].as_str().unwrap().to_owned(), body["target"].clone())
            })
            .collect();
        events.sort_by(|a, b| a.0.cmp(&b.0));
        events
    };
    let got = events(catalogs.wait_for(2).await);
    assert_eq!(
        got,
        [
            ("catalog.created".to_owned(), json!({ "type": "catalog", "id": "main" })),
            ("schema.created".to_owned(), json!({ "type": "schema", "id": "main.crm" })),
        ]
    );
    // The `*` webhook also hears of its own creation, and of the other one's.
    let got = events(everything.wait_for(4).await);
    assert_eq!(
        got.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>(),
        ["catalog.created", "schema.created", "webhook.created", "webhook.created"]
    );
    let mut created: Vec<&Value> = got[2..].iter().map(|(_, target)| &target["id"]).collect();
    created.sort_by_key(|id| *id != &all["id"]);
    assert_eq!(created, [&all["id"], &hook["id"]]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(everything.received().len(), 4, "sign-ins are in the audit trail only");
    assert_eq!(catalogs.received().len(), 2);
    let (_, audit) = s.get("/v1/audit?action=auth.*", t).await;
    assert_eq!(audit["total"], 3, "onboarding and both sign-ins are audited: {audit}");
}
