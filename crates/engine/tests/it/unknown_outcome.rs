//! A caller that never learnt how its write ended (it went away, or its connection broke)
//! retries with the same idempotency key: the rows are in the table exactly once, and the
//! retry answers the commit that holds them.

use std::time::Duration;

use lakeward_engine::ops::rows::Insert;
use lakeward_engine::{InputFormat, TimeTravel};

use crate::support::{engine, ids, json_rows, keyed_table, request};

#[tokio::test]
async fn a_retry_after_an_abandoned_write_commits_once() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let location = keyed_table(&engine, dir.path()).await;
    for id in 0..12_i64 {
        let key = format!("key-{id}");
        let insert = || Insert {
            location: location.clone(),
            format: InputFormat::Json,
            body: json_rows([id]),
            request: request(Some(&key)),
        };
        // Abandoned at a different point each round: before it was queued, while it
        // commits, or after.
        let patience = Duration::from_millis((id as u64 % 4) * 15);
        let abandoned = tokio::time::timeout(patience, engine.run(insert())).await;
        let retried = engine.run(insert()).await.unwrap();
        assert_eq!(retried.rows, 1, "round {id}: {retried:?}");
        if let Ok(Ok(first)) = abandoned {
            assert_eq!(first.version, retried.version, "round {id}");
            assert!(retried.replayed, "round {id}");
        }
    }
    assert_eq!(ids(&engine, &location, TimeTravel::Latest).await, (0..12).collect::<Vec<_>>());
}
