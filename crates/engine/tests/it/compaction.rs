//! Small files (one per group commit) are compacted once a table gathers enough of them,
//! without changing a row.

use std::time::Duration;

use lakeward_engine::TimeTravel;
use lakeward_engine::ops::table::Describe;

use crate::support::{engine, ids, insert, keyed_table};

#[tokio::test]
async fn single_row_inserts_are_compacted() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let location = keyed_table(&engine, dir.path()).await;
    for id in 1..=40 {
        insert(&engine, &location, [id]).await;
    }
    let describe = || Describe { location: location.clone(), at: TimeTravel::Latest };
    let mut files = u64::MAX;
    for _ in 0..100 {
        files = engine.run(describe()).await.unwrap().num_files;
        if files < 32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(files < 32, "40 single-row inserts left {files} files");
    let described = engine.run(describe()).await.unwrap();
    assert_eq!(described.num_rows, 40);
    assert_eq!(ids(&engine, &location, TimeTravel::Latest).await, (1..=40).collect::<Vec<_>>());
}
