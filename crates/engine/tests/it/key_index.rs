//! Primary keys stay unique when another Delta writer commits between Lakeward's inserts:
//! the keys Lakeward holds for the table are brought up to date with that commit.

use std::sync::Arc;

use arrow::array::{Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use lakeward_engine::{EngineError, TimeTravel};

use crate::support::{delta, engine, ids, insert, keyed_table};

#[tokio::test]
async fn keys_committed_by_another_writer_are_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let location = keyed_table(&engine, dir.path()).await;
    insert(&engine, &location, 1..=10).await;

    // Another engine appends key 11.
    let other = delta(&location).await;
    let schema = Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("id", arrow::datatypes::DataType::Int64, false),
        arrow::datatypes::Field::new("name", arrow::datatypes::DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![Arc::new(Int64Array::from(vec![11])), Arc::new(StringArray::from(vec!["from elsewhere"]))],
    )
    .unwrap();
    other.write(vec![batch]).await.unwrap();

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
