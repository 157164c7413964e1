//! Earlier versions read as they were; a rollback is a new commit; history names each.

use lakeward_engine::TimeTravel;
use lakeward_engine::ops::rows::DeleteRows;
use lakeward_engine::ops::table::{Describe, History, Restore};
use lakeward_model::query::{CmpOp, Filter};

use crate::support::{engine, ids, insert, keyed_table, request};

#[tokio::test]
async fn versions_read_as_they_were_and_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let location = keyed_table(&engine, dir.path()).await;
    assert_eq!(insert(&engine, &location, [1, 2, 3]).await.version, Some(1));
    let filter = Some(Filter::Cmp { column: "id".into(), op: CmpOp::Eq, value: "2".into() });
    let deleted = engine.run(DeleteRows { location: location.clone(), filter, request: request(None) }).await.unwrap();
    assert_eq!((deleted.version, deleted.rows), (Some(2), 1));

    assert_eq!(ids(&engine, &location, TimeTravel::Version(1)).await, [1, 2, 3]);
    assert_eq!(ids(&engine, &location, TimeTravel::Latest).await, [1, 3]);
    let then = engine.run(Describe { location: location.clone(), at: TimeTravel::Version(1) }).await.unwrap();
    assert_eq!((then.version, then.num_rows), (1, 3));

    let restored =
        engine.run(Restore { location: location.clone(), version: 1, request: request(None) }).await.unwrap();
    assert_eq!(restored.version, Some(3));
    assert_eq!(ids(&engine, &location, TimeTravel::Latest).await, [1, 2, 3]);
    let refused = engine.run(Restore { location: location.clone(), version: 9, request: request(None) }).await;
    assert!(matches!(refused, Err(lakeward_engine::EngineError::Invalid { .. })), "{refused:?}");

    let history = engine.run(History { location: location.clone(), limit: 10, before: None }).await.unwrap();
    let versions: Vec<u64> = history.iter().map(|h| h.version).collect();
    assert_eq!(versions, [3, 2, 1, 0]);
    assert!(history.iter().all(|h| h.user_id.as_deref() == Some("u1")), "{history:?}");
}
