//! A table state the engine keeps is checked for newer commits on every read: commits by
//! another writer are seen by the next read, however many there were, and also when log
//! cleanup has removed the commit right after the kept state.

use std::collections::HashMap;

use lakeward_engine::TimeTravel;

use crate::support::{engine, ids, insert, keyed_table, other_writer_appends};

#[tokio::test]
async fn reads_see_every_commit_another_writer_made_after_the_kept_state() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let location = keyed_table(&engine, dir.path()).await;
    insert(&engine, &location, 1..=3).await;
    assert_eq!(ids(&engine, &location, TimeTravel::Latest).await, vec![1, 2, 3]);

    other_writer_appends(&location, &[(4, "a")]).await;
    assert_eq!(ids(&engine, &location, TimeTravel::Latest).await, vec![1, 2, 3, 4]);

    other_writer_appends(&location, &[(5, "b")]).await;
    other_writer_appends(&location, &[(6, "c")]).await;
    assert_eq!(ids(&engine, &location, TimeTravel::Latest).await, (1..=6).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_kept_state_older_than_the_log_retention_is_brought_up_to_date_by_listing_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let location = keyed_table(&engine, dir.path()).await;
    let table = crate::support::delta(&location).await;
    let retention = HashMap::from([("delta.logRetentionDuration".to_string(), "interval 1 second".to_string())]);
    table.set_tbl_properties().with_properties(retention).await.unwrap();
    insert(&engine, &location, [1]).await;
    assert_eq!(ids(&engine, &location, TimeTravel::Latest).await, vec![1]);
    let kept = crate::support::delta(&location).await.version().unwrap();

    // Another writer commits twice and checkpoints; log cleanup then removes the commit
    // right after the state the engine keeps.
    other_writer_appends(&location, &[(2, "a")]).await;
    let last = other_writer_appends(&location, &[(3, "b")]).await;
    deltalake::checkpoints::create_checkpoint(&last, None).await.unwrap();
    std::fs::remove_file(dir.path().join(format!("t/_delta_log/{:020}.json", kept + 1))).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));

    assert_eq!(ids(&engine, &location, TimeTravel::Latest).await, vec![1, 2, 3]);
}

/// Each commit is announced as it lands, with its version, under the very location the
/// engine keys a table's state by (so that another process's announcement finds the state
/// to refresh); a refresh from an announcement brings the state up to date, so that the
/// next read has no update to make.
#[tokio::test]
async fn commits_are_announced_under_the_location_the_engine_keys_tables_by() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, reader) = (engine(), engine());
    let location = keyed_table(&writer, dir.path()).await;
    insert(&writer, &location, [1]).await;
    assert_eq!(ids(&reader, &location, TimeTravel::Latest).await, vec![1]);

    let mut feed = lakeward_engine::commit_feed();
    let version = insert(&writer, &location, [2]).await.version.unwrap();
    let landed = loop {
        let landed = feed.recv().await.unwrap();
        if landed.location == location {
            break landed;
        }
    };
    assert_eq!(landed, lakeward_engine::Landed { location: location.clone(), version });

    let refresh = lakeward_engine::ops::table::Refresh { location: location.clone(), version };
    let before = reader.stats().state_updates;
    reader.run(refresh).await.unwrap();
    assert_eq!(reader.stats().state_updates, before + 1, "the refresh updated the state");
    assert_eq!(ids(&reader, &location, TimeTravel::Latest).await, vec![1, 2]);
    assert_eq!(reader.stats().state_updates, before + 1, "the read found it up to date");
    // A table the engine has not opened is left alone.
    let elsewhere = url::Url::from_directory_path(dir.path().join("never-opened")).unwrap();
    reader.run(lakeward_engine::ops::table::Refresh { location: elsewhere, version: 3 }).await.unwrap();
    assert_eq!(reader.stats().state_updates, before + 1);
}
