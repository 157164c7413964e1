//! Inputs built to exhaust the server (filters nested thousands of levels deep, SQL
//! expressions of tens of thousands of terms) are refused with a 400 naming the limit, and
//! the process lives on. Inputs at the limit still work.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::data::{T, acme_with_sample, ids, rows, sql};
use crate::support::{Tenant, TestServer, invalid};

async fn setup() -> (TestServer, Tenant) {
    let (s, ada) = acme_with_sample().await;
    (s, ada)
}

async fn assert_alive(s: &TestServer) {
    let res = s.client.get(s.url("/v1/health")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// `or=(and(and(...(id.eq.1)...)))` with `depth` groups in all.
fn nested(depth: usize) -> String {
    let inner = (1..depth).fold("id.eq.1".to_owned(), |inner, _| format!("and({inner})"));
    format!("?or=({inner})")
}

#[tokio::test]
async fn filters_nested_past_the_limit_are_refused_and_the_server_lives() {
    let (s, ada) = setup().await;
    let too_deep = invalid("or", "filters nest at most 32 levels deep");
    for depth in [33, 2_000] {
        let (status, body, _) = rows(&s, &ada.token, &nested(depth)).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, too_deep.clone()), "depth {depth}");
        let path = format!("{T}/rows{}", nested(depth));
        let (status, body) = s.call(Method::PATCH, &path, Some(&ada.token), Some(json!({ "name": "x" }))).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, too_deep.clone()), "PATCH, depth {depth}");
        let (status, body) = s.call(Method::DELETE, &path, Some(&ada.token), None).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, too_deep.clone()), "DELETE, depth {depth}");
        assert_alive(&s).await;
    }
    let (status, body, _) = rows(&s, &ada.token, &nested(32)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids(&body), [1]);
    let (_, all, _) = rows(&s, &ada.token, "?select=id&order=id").await;
    assert_eq!(ids(&all), [1, 2, 3], "nothing was changed by the refused writes");
}

#[tokio::test]
async fn filters_with_too_many_conditions_are_refused() {
    let (s, ada) = setup().await;
    let list = |n: usize| format!("?or=({})", (0..n).map(|i| format!("id.eq.{i}")).collect::<Vec<_>>().join(","));
    let (status, body, _) = rows(&s, &ada.token, &list(1_000)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids(&body).len(), 3);
    let (status, body, _) = rows(&s, &ada.token, &list(1_001)).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            invalid("filter", "a filter holds at most 1000 conditions (use in.(...) for long lists of values)")
        )
    );
    assert_alive(&s).await;
}

fn chain(terms: usize, term: &str, operator: &str) -> String {
    vec![term; terms].join(operator)
}

#[tokio::test]
async fn sql_past_the_size_limits_is_refused_and_the_server_lives() {
    let (s, ada) = setup().await;
    let operators = invalid("query", "a query holds at most 1000 operators (use IN (...) for long lists of values)");
    let cases: Vec<(String, Value)> = vec![
        (format!("SELECT {}", chain(40_000, "1", "+")), operators.clone()),
        (format!("SELECT id FROM main.crm.customers WHERE {}", chain(20_000, "id = 1", " OR ")), operators.clone()),
        (
            format!("SELECT {}1{}", "(".repeat(5_000), ")".repeat(5_000)),
            invalid("query", "parentheses nest at most 32 levels deep in a query"),
        ),
        (format!("SELECT '{}'", "x".repeat(300 * 1024)), invalid("query", "a query is at most 262144 bytes long")),
    ];
    for (query, expected) in cases {
        let (status, body) = sql(&s, &ada.token, &query).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, expected), "{}", &query[..60]);
        assert_alive(&s).await;
    }
    // At the limit: 1000 operators.
    let (status, body) = sql(&s, &ada.token, &format!("SELECT {} AS n", chain(1_001, "1", "+"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"], json!([{ "n": 1001 }]));
    let query = format!("SELECT id FROM main.crm.customers WHERE {} ORDER BY id", chain(500, "id = 2", " OR "));
    let (status, body) = sql(&s, &ada.token, &query).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"], json!([{ "id": 2 }]));
}
