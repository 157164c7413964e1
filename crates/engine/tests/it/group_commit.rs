//! Concurrent inserts into one table share commits, and each still gets its own answer.

use lakeward_engine::ops::rows::Insert;
use lakeward_engine::{EngineError, InputFormat, TimeTravel};

use crate::support::{engine, ids, json_rows, keyed_table, request};

#[tokio::test]
async fn concurrent_inserts_share_commits_and_keep_their_own_answers() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let location = keyed_table(&engine, dir.path()).await;
    let insert = |ids: Vec<i64>| Insert {
        location: location.clone(),
        format: InputFormat::Json,
        body: json_rows(ids),
        request: request(None),
    };
    // 24 inserts of one row each, and one that repeats a key of another: it fails alone.
    let mut writes: Vec<_> = (1..=24).map(|id| engine.run(insert(vec![id]))).collect();
    writes.push(engine.run(insert(vec![100, 7])));
    let outcomes = futures::future::join_all(writes).await;
    let (duplicate, single) = outcomes.split_last().unwrap();
    let versions: std::collections::BTreeSet<u64> =
        single.iter().map(|o| o.as_ref().unwrap().version.unwrap()).collect();
    assert!(single.iter().all(|o| o.as_ref().unwrap().rows == 1));
    assert!(versions.len() < 24, "24 inserts made {} commits", versions.len());
    // Whether it came first or after, the insert repeating key 7 is refused alone.
    match duplicate {
        Err(EngineError::Conflict(message)) => assert!(message.contains("id=7"), "{message}"),
        Err(EngineError::Rows(errors)) => assert_eq!(errors.total, 1, "{errors:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(ids(&engine, &location, TimeTravel::Latest).await, (1..=24).collect::<Vec<_>>());
    // What operators see on /metrics.
    let stats = engine.stats();
    assert!(stats.commits as usize >= versions.len(), "{stats:?}");
    assert!(stats.group_commits as usize >= versions.len() && stats.grouped_inserts >= 24, "{stats:?}");
    assert_eq!((stats.conflicts, stats.redos), (0, 0), "one process, no other writer");
}
