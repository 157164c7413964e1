//! Primary keys stay unique when another Delta writer commits between Lakeward's inserts:
//! the keys Lakeward holds for the table are brought up to date with that commit.

use lakeward_engine::{EngineError, TimeTravel};

use crate::support::{engine, ids, insert, keyed_table, other_writer_appends};

#[tokio::test]
async fn keys_committed_by_another_writer_are_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let location = keyed_table(&engine, dir.path()).await;
    insert(&engine, &location, 1..=10).await;

    // Another engine appends key 11.
    other_writer_appends(&location, &[(11, "from elsewhere")]).await;

    let op = |id: i64| lakeward_engine::ops::rows::Insert {
        location: location.clone(),
        format: lakeward_engine::InputFormat::Json,
        body: crate::support::json_rows([id]),
        request: crate::support::request(None),
    };
    match engine.run(op(11)).await {
        Err(EngineError::Conflict(message)) => assert!(message.contains("id=11"), "{message}"),
        other => panic!("key 11 inserted twice: {other:?}"),
    }
    assert_eq!(engine.run(op(12)).await.unwrap().rows, 1);
    assert_eq!(ids(&engine, &location, TimeTravel::Latest).await, (1..=12).collect::<Vec<_>>());
}

/// Two engines on one table, as two replicas are: each catches its key index up with the
/// other's appends from the log (one whole-table read of the keys each, however often the
/// other commits), refuses the other's keys, and rebuilds after a commit that removed rows.
#[tokio::test]
async fn an_index_is_caught_up_with_another_writers_appends_and_rebuilt_after_a_delete() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (engine(), engine());
    let location = keyed_table(&a, dir.path()).await;
    let op = |id: i64| lakeward_engine::ops::rows::Insert {
        location: location.clone(),
        format: lakeward_engine::InputFormat::Json,
        body: crate::support::json_rows([id]),
        request: crate::support::request(None),
    };
    for round in 0..5 {
        assert_eq!(a.run(op(round * 2)).await.unwrap().rows, 1);
        assert_eq!(b.run(op(round * 2 + 1)).await.unwrap().rows, 1);
    }
    match a.run(op(9)).await {
        Err(EngineError::Conflict(message)) => assert!(message.contains("id=9"), "{message}"),
        other => panic!("key 9, committed by the other engine, inserted twice: {other:?}"),
    }
    match b.run(op(8)).await {
        Err(EngineError::Conflict(message)) => assert!(message.contains("id=8"), "{message}"),
        other => panic!("key 8 inserted twice: {other:?}"),
    }
    assert_eq!((a.stats().key_index_builds, b.stats().key_index_builds), (1, 1));

    // Another writer deletes key 3: the next insert reads the keys afresh, and 3 is free.
    crate::support::delta(&location).await.delete().with_predicate("id = 3").await.unwrap();
    assert_eq!(a.run(op(3)).await.unwrap().rows, 1);
    assert_eq!(a.stats().key_index_builds, 2);
    assert_eq!(ids(&a, &location, TimeTravel::Latest).await, (0..10).collect::<Vec<_>>());
}
