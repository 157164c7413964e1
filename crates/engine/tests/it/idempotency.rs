//! A retried write with the same idempotency key writes nothing again and answers the
//! original outcome, for every kind of write.

use lakeward_engine::ops::rows::{DeleteRows, Insert, UpdateRows, Upsert};
use lakeward_engine::{InputFormat, TimeTravel};
use lakeward_model::query::{CmpOp, Filter};

use crate::support::{engine, ids, json_rows, keyed_table, request};

#[tokio::test]
async fn every_write_is_answered_once_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let location = keyed_table(&engine, dir.path()).await;
    let insert = || Insert {
        location: location.clone(),
        format: InputFormat::Json,
        body: json_rows([1, 2, 3]),
        request: request(Some("insert-1")),
    };
    let first = engine.run(insert()).await.unwrap();
    let again = engine.run(insert()).await.unwrap();
    assert_eq!((first.version, first.rows, first.replayed), (Some(1), 3, false));
    assert_eq!((again.version, again.rows, again.replayed), (Some(1), 3, true));

    let upsert = || Upsert {
        location: location.clone(),
        format: InputFormat::Json,
        body: json_rows([3, 4]),
        request: request(Some("upsert-1")),
    };
    let first = engine.run(upsert()).await.unwrap();
    let again = engine.run(upsert()).await.unwrap();
    assert_eq!((first.version, first.rows, first.replayed), (Some(2), 2, false));
    assert_eq!((again.version, again.rows, again.replayed), (Some(2), 2, true));

    let id_is = |id: &str| Some(Filter::Cmp { column: "id".into(), op: CmpOp::Eq, value: id.into() });
    let mut set = serde_json::Map::new();
    set.insert("name".into(), "renamed".into());
    let update = || UpdateRows {
        location: location.clone(),
        filter: id_is("1"),
        set: set.clone(),
        request: request(Some("update-1")),
    };
    let first = engine.run(update()).await.unwrap();
    let again = engine.run(update()).await.unwrap();
    assert_eq!((first.version, first.rows, first.replayed), (Some(3), 1, false));
    assert_eq!((again.version, again.rows, again.replayed), (Some(3), 1, true));

    let delete = || DeleteRows { location: location.clone(), filter: id_is("2"), request: request(Some("delete-1")) };
    let first = engine.run(delete()).await.unwrap();
    assert_eq!((first.version, first.rows, first.replayed), (Some(4), 1, false));
    // Row 2 is back: a replay must not delete it again.
    engine.run(Insert { request: request(None), body: json_rows([2]), ..insert() }).await.unwrap();
    let again = engine.run(delete()).await.unwrap();
    assert_eq!((again.version, again.rows, again.replayed), (Some(4), 1, true));
    assert_eq!(ids(&engine, &location, TimeTravel::Latest).await, [1, 2, 3, 4]);
}
