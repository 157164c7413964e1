//! The metadata store against a real SQLite file and a real PostgreSQL server: every test
//! runs on both. PostgreSQL is the one `LAKEWARD_TEST_POSTGRES_URL` names (started by
//! `scripts/postgres.sh`); each test gets a database of its own beside it.

mod store;

use lakeward_meta::MetaStore;
use sqlx::Connection as _;

#[derive(Debug, Clone, Copy)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// The URL of a new, empty database (and the folder holding it, for SQLite).
pub async fn fresh_url(db: Db) -> (Option<tempfile::TempDir>, String) {
    match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
            (Some(dir), url)
        }
        Db::Postgres => {
            let admin = std::env::var("LAKEWARD_TEST_POSTGRES_URL")
                .expect("LAKEWARD_TEST_POSTGRES_URL: start PostgreSQL with `eval \"$(scripts/postgres.sh)\"`");
            sqlx::any::install_default_drivers();
            let name = format!("lakeward_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
            let (base, _) = admin.rsplit_once('/').unwrap();
            (None, format!("{base}/{name}"))
        }
    }
}

pub async fn store(db: Db) -> (Option<tempfile::TempDir>, MetaStore) {
    let (dir, url) = fresh_url(db).await;
    (dir, MetaStore::connect(&url).await.unwrap())
}

/// Each test of `store` once per database.
macro_rules! on_both {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $test() { crate::store::$test(crate::Db::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $test() { crate::store::$test(crate::Db::Postgres).await })*
        }
    };
}

on_both!(
    migrations_are_applied_once_and_reopening_keeps_data,
    migrations_racing_at_start_up_apply_once,
    a_newer_release_s_migrations_leave_nothing_pending_for_the_one_before,
    write_turns_are_had_one_at_a_time_per_table,
    an_organisation_keeps_at_least_one_active_admin,
    emails_are_unique_across_organisations,
    invitations_are_redeemed_once_and_expire,
    api_keys_names_updates_and_revocation,
    audit_events_filter_and_paginate_per_organisation,
    jobs_record_progress_and_a_restart_fails_the_running_ones,
    teams_hold_members_of_their_organisation_only,
    grants_hold_below_their_object_for_users_and_their_teams,
);
