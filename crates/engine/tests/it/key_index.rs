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
