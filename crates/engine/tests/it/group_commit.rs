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
    // 24 inserts of one row each, and one that repeats a key of another.
    let mut writes: Vec<_> = (1..=24).map(|id| engine.run(insert(vec![id]))).collect();
    writes.push(engine.run(insert(vec![100, 7])));
    let outcomes = futures::future::join_all(writes).await;
    // Key 7 is given twice, alone and with 100: whichever comes first wins, the other is
    // refused alone.
    let (pair, singles) = outcomes.split_last().unwrap();
    let seven = &singles[6];
    assert!(pair.is_ok() != seven.is_ok(), "exactly one insert of key 7 lands: {pair:?} {seven:?}");
    let refused = if pair.is_ok() { seven } else { pair };
    match refused {
        Err(EngineError::Conflict(message)) => assert!(message.contains("id=7"), "{message}"),
        Err(EngineError::Rows(errors)) => assert_eq!(errors.total, 1, "{errors:?}"),
        other => panic!("{other:?}"),
    }
    let landed: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(landed.len(), 24);
    let versions: std::collections::BTreeSet<u64> = landed.iter().map(|o| o.version.unwrap()).collect();
    assert!(versions.len() < 24, "24 inserts made {} commits", versions.len());
    let mut expected: Vec<i64> = (1..=24).collect();
    if pair.is_ok() {
        expected.push(100);
    }
    assert_eq!(ids(&engine, &location, TimeTravel::Latest).await, expected);
    // What operators see on /metrics.
    let stats = engine.stats();
    assert!(stats.commits as usize >= versions.len(), "{stats:?}");
    assert!(stats.group_commits as usize >= versions.len() && stats.grouped_inserts >= 24, "{stats:?}");
    assert_eq!((stats.conflicts, stats.redos), (0, 0), "one process, no other writer");
}
