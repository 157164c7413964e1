use chrono::{Duration, Utc};
use lakeward_meta::access::{Role, ScopeSet};
use lakeward_meta::store::{ApiKeyUpdate, AuditFilter, NewApiKey, NewAuditEvent, UserStatus};
use lakeward_meta::{EventKind, MetaError, MetaStore};

use crate::{Db, fresh_url, store};

pub async fn migrations_are_applied_once_and_reopening_keeps_data(db: Db) {
    let (_dir, url) = fresh_url(db).await;
    let first = MetaStore::connect(&url).await.unwrap();
    first.create_organisation("Acme", "a@acme.test", "h").await.unwrap();
    drop(first);
    let again = MetaStore::connect(&url).await.unwrap();
    assert_eq!(again.count_organisations().await.unwrap(), 1);
}

pub async fn an_organisation_keeps_at_least_one_active_admin(db: Db) {
    let (_dir, store) = store(db).await;
    let (org, admin) = store.create_organisation("Acme", "Admin@Acme.test", "h").await.unwrap();
    assert_eq!(admin.email, "admin@acme.test");
    assert!(matches!(store.set_role(org.id, admin.id, Role::Viewer).await, Err(MetaError::LastAdmin)));
    assert!(matches!(store.deactivate_user(org.id, admin.id).await, Err(MetaError::LastAdmin)));
    assert!(matches!(store.delete_user(org.id, admin.id).await, Err(MetaError::LastAdmin)));
    assert_eq!(store.get_user(admin.id).await.unwrap().unwrap().role, Role::Admin);

    let second = store.create_user(org.id, "b@acme.test", Role::Admin, Some("h")).await.unwrap();
    store.set_role(org.id, admin.id, Role::Editor).await.unwrap();
    // Now `second` is the last admin.
    assert!(matches!(store.deactivate_user(org.id, second.id).await, Err(MetaError::LastAdmin)));
    // An invited (not yet active) admin does not count.
    let invited = store.create_user(org.id, "c@acme.test", Role::Admin, None).await.unwrap();
    assert_eq!(invited.status, UserStatus::Invited);
    assert!(matches!(store.set_role(org.id, second.id, Role::Viewer).await, Err(MetaError::LastAdmin)));
    // Another organisation's member is not found.
    let (other, _) = store.create_organisation("Other", "o@other.test", "h").await.unwrap();
    assert!(matches!(store.set_role(other.id, second.id, Role::Viewer).await, Err(MetaError::NotFound)));
    assert!(matches!(store.delete_user(other.id, second.id).await, Err(MetaError::NotFound)));
}

pub async fn emails_are_unique_across_organisations(db: Db) {
    let (_dir, store) = store(db).await;
    let (org, _) = store.create_organisation("Acme", "a@acme.test", "h").await.unwrap();
    assert!(matches!(store.create_organisation("Other", "A@acme.test", "h").await, Err(MetaError::Conflict(_))));
    assert!(matches!(store.create_user(org.id, "a@ACME.test", Role::Viewer, None).await, Err(MetaError::Conflict(_))));
    assert_eq!(store.count_organisations().await.unwrap(), 1, "the failed onboarding left nothing behind");
}

pub async fn invitations_are_redeemed_once_and_expire(db: Db) {
    let (_dir, store) = store(db).await;
    let (org, _) = store.create_organisation("Acme", "a@acme.test", "h").await.unwrap();
    let invited = store.create_user(org.id, "new@acme.test", Role::Editor, None).await.unwrap();
    store.create_invite(invited.id, org.id, "tok", Utc::now() + Duration::days(1)).await.unwrap();
    let user = store.accept_invite("tok", "pw").await.unwrap().unwrap();
    assert_eq!((user.status, user.password_hash.as_deref()), (UserStatus::Active, Some("pw")));
    assert!(store.accept_invite("tok", "pw2").await.unwrap().is_none());

    let late = store.create_user(org.id, "late@acme.test", Role::Editor, None).await.unwrap();
    store.create_invite(late.id, org.id, "old", Utc::now() - Duration::seconds(1)).await.unwrap();
    assert!(store.accept_invite("old", "pw").await.unwrap().is_none());
}

pub async fn api_keys_names_updates_and_revocation(db: Db) {
    let (_dir, store) = store(db).await;
    let (org, admin) = store.create_organisation("Acme", "a@acme.test", "h").await.unwrap();
    let scopes = ScopeSet::parse(["tables:read"]).unwrap();
    let new = |hash: &'static str, name: &'static str| NewApiKey {
        org_id: org.id,
        user_id: admin.id,
        name,
        key_prefix: "lw_live_00000000",
        key_hash: hash,
        scopes,
        expires_at: None,
    };
    let key = store.create_api_key(new("h1", "ci")).await.unwrap();
    assert!(matches!(store.create_api_key(new("h2", "ci")).await, Err(MetaError::Conflict(_))));
    assert_eq!(store.find_api_key_by_hash("h1").await.unwrap().unwrap().id, key.id);

    let expiry = Utc::now() + Duration::days(7);
    let updated = store
        .update_api_key(
            key.id,
            ApiKeyUpdate { name: Some("ci2".into()), expires_at: Some(Some(expiry)), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "ci2");
    assert_eq!(updated.expires_at.unwrap().timestamp_millis(), expiry.timestamp_millis());
    assert_eq!(updated.scopes, scopes);

    store.touch_api_key(key.id).await.unwrap();
    assert!(store.get_api_key(key.id).await.unwrap().unwrap().last_used_at.is_some());

    let revoked = store.revoke_api_key(key.id).await.unwrap();
    assert!(revoked.revoked_at.is_some() && !revoked.is_usable(Utc::now()));
    assert!(matches!(store.revoke_api_key(key.id).await, Err(MetaError::Conflict(_))));
    assert!(matches!(store.update_api_key(key.id, ApiKeyUpdate::default()).await, Err(MetaError::Conflict(_))));
    // The name is free again once the old key is revoked.
    store.create_api_key(new("h3", "ci2")).await.unwrap();
}

pub async fn audit_events_filter_and_paginate_per_organisation(db: Db) {
    let (_dir, store) = store(db).await;
    let (org, admin) = store.create_organisation("Acme", "a@acme.test", "h").await.unwrap();
    let (other, _) = store.create_organisation("Other", "o@other.test", "h").await.unwrap();
    for i in 0..5 {
        store
            .record_audit(NewAuditEvent {
                org_id: Some(org.id),
                actor_type: "user",
                actor_id: Some(admin.id),
                target_id: Some(format!("t{i}")),
                details: serde_json::json!({ "i": i }),
                ..NewAuditEvent::new(if i % 2 == 0 { EventKind::ApiKeyCreated } else { EventKind::MemberRoleChanged })
            })
            .await
            .unwrap();
    }
    store
        .record_audit(NewAuditEvent {
            org_id: Some(other.id),
            actor_type: "user",
            ..NewAuditEvent::new(EventKind::ApiKeyCreated)
        })
        .await
        .unwrap();

    let all = store.list_audit(org.id, &AuditFilter::default(), 2, 0).await.unwrap();
    assert_eq!(all.total, 5);
    assert_eq!(all.events.iter().map(|e| e.details["i"].as_i64().unwrap()).collect::<Vec<_>>(), [4, 3]);
    let page3 = store.list_audit(org.id, &AuditFilter::default(), 2, 4).await.unwrap();
    assert_eq!(page3.events.len(), 1);

    let created = AuditFilter { action: Some("apikey.created".into()), ..Default::default() };
    assert_eq!(store.list_audit(org.id, &created, 50, 0).await.unwrap().total, 3);
    let by_prefix = AuditFilter { action_prefix: Some("member".into()), ..Default::default() };
    assert_eq!(store.list_audit(org.id, &by_prefix, 50, 0).await.unwrap().total, 2);
    let by_target = AuditFilter { target_id: Some("t3".into()), ..Default::default() };
    assert_eq!(store.list_audit(org.id, &by_target, 50, 0).await.unwrap().total, 1);
    let future = AuditFilter { since: Some(Utc::now() + Duration::hours(1)), ..Default::default() };
    assert_eq!(store.list_audit(org.id, &future, 50, 0).await.unwrap().total, 0);
    let window = AuditFilter {
        since: Some(Utc::now() - Duration::hours(1)),
        until: Some(Utc::now() + Duration::hours(1)),
        action: Some("apikey.created".into()),
        ..Default::default()
    };
    assert_eq!(store.list_audit(org.id, &window, 50, 0).await.unwrap().total, 3);
}

pub async fn jobs_record_progress_and_a_restart_fails_the_running_ones(db: Db) {
    use lakeward_meta::store::{JobEnd, JobFilter, JobProgress, JobTotals, NewJob};
    let (_dir, store) = store(db).await;
    let (org, user) = store.create_organisation("Acme", "a@acme.test", "h").await.unwrap();
    let instance = uuid::Uuid::now_v7();
    let new = |target: &'static str| NewJob {
        org_id: org.id,
        kind: "import",
        target: Some(target),
        created_by: user.id,
        instance_id: instance,
        totals: JobTotals { bytes: Some(100), ..Default::default() },
    };
    let done = store.create_job(&new("main.crm.a")).await.unwrap();
    let running = store.create_job(&new("main.crm.b")).await.unwrap();
    let queued = store.create_job(&new("main.crm.c")).await.unwrap();
    assert_eq!(
        (done.status.as_str(), done.progress, done.instance_id),
        ("queued", JobProgress::default(), Some(instance))
    );
    assert_eq!((done.totals.bytes, done.started_at, done.finished_at), (Some(100), None, None));
    let now = chrono::Utc::now;
    assert_eq!(store.job_started(done.id, now()).await.unwrap(), None, "no cancel requested");
    assert_eq!(store.job_started(running.id, now()).await.unwrap(), None);
    let progress = JobProgress { rows_read: 10, rows_written: 8, bytes_read: Some(50), steps_done: None };
    assert_eq!(store.job_progress(done.id, &progress, now()).await.unwrap(), None);
    let job = store.get_job(org.id, done.id).await.unwrap().unwrap();
    assert_eq!((job.status.as_str(), job.progress), ("running", progress));
    assert!(job.started_at.is_some());
    let last = JobProgress { rows_read: 10, rows_written: 10, bytes_read: Some(100), steps_done: None };
    let end = JobEnd::Succeeded { version: Some(3), result: serde_json::json!({ "version": 3 }) };
    assert!(store.finish_job(done.id, &last, end).await.unwrap());
    // Progress, a second end or a cancel after the end change nothing.
    assert_eq!(store.job_progress(done.id, &JobProgress { rows_read: 99, ..last }, now()).await.unwrap(), None);
    assert!(!store.finish_job(done.id, &last, JobEnd::Cancelled).await.unwrap());
    assert!(!store.request_job_cancel(org.id, done.id, now()).await.unwrap());
    let job = store.get_job(org.id, done.id).await.unwrap().unwrap();
    assert_eq!((job.status.as_str(), job.progress, job.version), ("succeeded", last, Some(3)));
    assert_eq!(job.result, Some(serde_json::json!({ "version": 3 })));
    assert!(job.finished_at.is_some() && job.cancel_requested_at.is_none());

    // A cancel is seen by the process running the job when it next records progress.
    let (other, _) = store.create_organisation("Other", "o@other.test", "h").await.unwrap();
    assert!(!store.request_job_cancel(other.id, running.id, now()).await.unwrap(), "jobs stay in their organisation");
    let asked = chrono::DateTime::from_timestamp_millis(1_800_000_000_000).unwrap();
    assert!(store.request_job_cancel(org.id, running.id, asked).await.unwrap());
    assert!(store.request_job_cancel(org.id, running.id, now()).await.unwrap(), "asked again");
    assert_eq!(store.job_progress(running.id, &progress, now()).await.unwrap(), Some(asked), "the first time");
    assert!(store.finish_job(running.id, &progress, JobEnd::Cancelled).await.unwrap());
    let job = store.get_job(org.id, running.id).await.unwrap().unwrap();
    assert_eq!((job.status.as_str(), job.progress.rows_written), ("cancelled", 0), "nothing counts as written");

    let interrupted = store.create_job(&new("main.crm.d")).await.unwrap();
    store.job_started(interrupted.id, now()).await.unwrap();
    // Within their lease (renewed by the process running them) jobs are left alone ...
    assert_eq!(store.fail_abandoned_jobs(now()).await.unwrap(), 0);
    let renewed = now() + Duration::seconds(90);
    assert_eq!(store.renew_job_leases(instance, renewed).await.unwrap(), 2, "the queued and the running one");
    assert_eq!(store.renew_job_leases(uuid::Uuid::now_v7(), renewed).await.unwrap(), 0, "another process's");
    assert_eq!(store.fail_abandoned_jobs(now() + Duration::seconds(60)).await.unwrap(), 0);
    // ... and once it expired, any server marks them failed.
    assert_eq!(store.fail_abandoned_jobs(renewed + Duration::seconds(1)).await.unwrap(), 2);
    for id in [queued.id, interrupted.id] {
        let job = store.get_job(org.id, id).await.unwrap().unwrap();
        assert_eq!(job.status, "failed");
        assert_eq!(job.error.unwrap()["statusCode"], 500);
    }
    assert_eq!(store.get_job(org.id, done.id).await.unwrap().unwrap().status, "succeeded");

    assert!(store.get_job(other.id, done.id).await.unwrap().is_none(), "jobs stay in their organisation");
    let ids = |jobs: Vec<lakeward_meta::store::Job>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
    let all = JobFilter::default();
    assert_eq!(
        ids(store.list_jobs(org.id, &all, 10).await.unwrap()),
        [interrupted.id, queued.id, running.id, done.id],
        "newest first"
    );
    let failed = JobFilter { status: Some("failed".into()), ..Default::default() };
    assert_eq!(ids(store.list_jobs(org.id, &failed, 10).await.unwrap()), [interrupted.id, queued.id]);
    let page = JobFilter { before: Some(queued.id), ..Default::default() };
    assert_eq!(ids(store.list_jobs(org.id, &page, 1).await.unwrap()), [running.id]);
    let by_target = JobFilter { target: Some("main.crm.a".into()), ..Default::default() };
    assert_eq!(ids(store.list_jobs(org.id, &by_target, 10).await.unwrap()), [done.id]);
    assert!(store.list_jobs(other.id, &all, 10).await.unwrap().is_empty());
}

/// Replicas starting together on one new database: each connects, the migrations are
/// applied once each.
pub async fn migrations_racing_at_start_up_apply_once(db: Db) {
    let (_dir, url) = fresh_url(db).await;
    let starts = (0..4).map(|_| MetaStore::connect(&url));
    for started in futures::future::join_all(starts).await {
        started.unwrap();
    }
    let store = MetaStore::connect(&url).await.unwrap();
    let (applied, known) = store.migration_status().await.unwrap();
    assert_eq!(applied, (1..=known as i64).collect::<Vec<_>>());
    assert_eq!(store.pending_migrations().await.unwrap(), Vec::<i64>::new());
}

/// During a rolling upgrade the previous release meets a database a newer one migrated:
/// the migrations it does not know are not pending, and migrating again changes nothing.
pub async fn a_newer_release_s_migrations_leave_nothing_pending_for_the_one_before(db: Db) {
    let (_dir, url) = fresh_url(db).await;
    let store = MetaStore::connect(&url).await.unwrap();
    use sqlx::Connection as _;
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query("INSERT INTO lakeward_migrations (version, applied_at) VALUES (9999, 0)")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(store.pending_migrations().await.unwrap(), Vec::<i64>::new());
    store.migrate().await.unwrap();
    let (applied, known) = store.migration_status().await.unwrap();
    assert_eq!(applied.len(), known + 1);
    assert_eq!(applied.last(), Some(&9999));
}

/// Replicas take turns at writing a table through PostgreSQL: a second turn at one table
/// waits until the first is handed back, turns at other tables do not wait, and a turn
/// dropped is free again. SQLite has no one to take turns with.
pub async fn write_turns_are_had_one_at_a_time_per_table(db: Db) {
    let (_dir, url) = fresh_url(db).await;
    let store = MetaStore::connect(&url).await.unwrap();
    let Db::Postgres = db else {
        assert!(!store.has_write_turns());
        assert!(store.write_turn("file:///w/t/").await.unwrap().is_none());
        return;
    };
    let other = MetaStore::open(&url).await.unwrap();
    let first = store.write_turn("file:///w/t/").await.unwrap().expect("a turn");
    let waiting = tokio::spawn(async move {
        let turn = other.write_turn("file:///w/t/").await.unwrap();
        (turn, std::time::Instant::now())
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the second replica waits for the turn");
    let elsewhere = tokio::time::timeout(std::time::Duration::from_secs(2), store.write_turn("file:///w/u/")).await;
    assert!(matches!(elsewhere, Ok(Ok(Some(_)))), "another table's turn does not wait");
    let handed_back = std::time::Instant::now();
    drop(first);
    let (second, granted) = tokio::time::timeout(std::time::Duration::from_secs(5), waiting).await.unwrap().unwrap();
    assert!(second.is_some() && granted >= handed_back);
}

pub async fn teams_hold_members_of_their_organisation_only(db: Db) {
    let (_dir, store) = store(db).await;
    let (org, admin) = store.create_organisation("Acme", "a@acme.test", "h").await.unwrap();
    let bob = store.create_user(org.id, "b@acme.test", Role::Viewer, Some("h")).await.unwrap();
    let (other, stranger) = store.create_organisation("Other", "o@other.test", "h").await.unwrap();

    let team = store.create_team(org.id, "stewards", Some("Master data"), admin.id).await.unwrap();
    assert_eq!(
        (team.name.as_str(), team.description.as_deref(), team.member_count),
        ("stewards", Some("Master data"), 0)
    );
    assert!(matches!(store.create_team(org.id, "stewards", None, admin.id).await, Err(MetaError::Conflict(_))));
    // The same name in another organisation is another team.
    store.create_team(other.id, "stewards", None, stranger.id).await.unwrap();

    assert!(store.add_team_member(org.id, team.id, bob.id).await.unwrap());
    assert!(!store.add_team_member(org.id, team.id, bob.id).await.unwrap(), "already a member");
    assert!(matches!(store.add_team_member(org.id, team.id, stranger.id).await, Err(MetaError::NotFound)));
    assert!(matches!(store.add_team_member(other.id, team.id, bob.id).await, Err(MetaError::NotFound)));
    assert_eq!(store.team_members(org.id, team.id).await.unwrap(), [bob.id]);
    assert_eq!(store.get_team(org.id, team.id).await.unwrap().unwrap().member_count, 1);
    assert!(store.get_team(other.id, team.id).await.unwrap().is_none());

    let renamed = store.update_team(org.id, team.id, Some("data-stewards"), Some(None)).await.unwrap();
    assert_eq!((renamed.name.as_str(), renamed.description), ("data-stewards", None));
    store.remove_team_member(org.id, team.id, bob.id).await.unwrap();
    assert!(matches!(store.remove_team_member(org.id, team.id, bob.id).await, Err(MetaError::NotFound)));
    assert_eq!(store.list_teams(org.id).await.unwrap().len(), 1);
}

pub async fn grants_hold_below_their_object_for_users_and_their_teams(db: Db) {
    use lakeward_meta::access::{Privilege, PrivilegeSet};
    use lakeward_meta::store::{GrantFilter, Grantee, Securable};
    let (_dir, store) = store(db).await;
    let (org, admin) = store.create_organisation("Acme", "a@acme.test", "h").await.unwrap();
    let bob = store.create_user(org.id, "b@acme.test", Role::Viewer, Some("h")).await.unwrap();
    let carol = store.create_user(org.id, "c@acme.test", Role::Viewer, Some("h")).await.unwrap();
    let (other, stranger) = store.create_organisation("Other", "o@other.test", "h").await.unwrap();
    let team = store.create_team(org.id, "stewards", None, admin.id).await.unwrap();
    store.add_team_member(org.id, team.id, carol.id).await.unwrap();
    let set = |ps: &[Privilege]| ps.iter().copied().collect::<PrivilegeSet>();
    let names = |s: PrivilegeSet| s.iter().map(Privilege::as_str).collect::<Vec<_>>();

    let schema = Securable::Schema("main.crm".into());
    let granted = store
        .grant(org.id, &schema, Grantee::User(bob.id), set(&[Privilege::Insert, Privilege::Update]), admin.id)
        .await
        .unwrap();
    assert_eq!(granted.iter().map(|g| g.privilege).collect::<Vec<_>>(), [Privilege::Insert, Privilege::Update]);
    // Granting again adds only what is new.
    let again = store
        .grant(org.id, &schema, Grantee::User(bob.id), set(&[Privilege::Insert, Privilege::Delete]), admin.id)
        .await
        .unwrap();
    assert_eq!(again.len(), 3);
    store
        .grant(
            org.id,
            &Securable::Table("main.crm.orders".into()),
            Grantee::Team(team.id),
            set(&[Privilege::Modify]),
            admin.id,
        )
        .await
        .unwrap();

    let customers = Securable::Table("main.crm.customers".into());
    let orders = Securable::Table("main.crm.orders".into());
    assert_eq!(
        names(store.granted_privileges(org.id, bob.id, &customers).await.unwrap()),
        ["insert", "update", "delete"]
    );
    assert_eq!(
        names(store.granted_privileges(org.id, bob.id, &Securable::Table("main.hr.pay".into())).await.unwrap()),
        Vec::<&str>::new()
    );
    assert_eq!(names(store.granted_privileges(org.id, carol.id, &orders).await.unwrap()), ["modify"]);
    assert_eq!(names(store.granted_privileges(org.id, carol.id, &customers).await.unwrap()), Vec::<&str>::new());
    // Another organisation's grantee is not found; its members hold nothing here.
    assert!(matches!(
        store.grant(org.id, &schema, Grantee::User(stranger.id), set(&[Privilege::Read]), admin.id).await,
        Err(MetaError::NotFound)
    ));
    assert!(matches!(
        store.grant(other.id, &schema, Grantee::Team(team.id), set(&[Privilege::Read]), stranger.id).await,
        Err(MetaError::NotFound)
    ));
    assert!(store.list_grants(other.id, &GrantFilter::default()).await.unwrap().is_empty());

    let on_orders = store.list_grants(org.id, &GrantFilter { on: Some(orders.clone()), grantee: None }).await.unwrap();
    assert_eq!(on_orders.len(), 4, "the schema's three and the table's own");
    let revoked = store.revoke_grant(org.id, again[0].id).await.unwrap();
    assert_eq!(revoked.privilege, Privilege::Delete);
    assert!(matches!(store.revoke_grant(other.id, again[1].id).await, Err(MetaError::NotFound)));
    assert_eq!(names(store.granted_privileges(org.id, bob.id, &customers).await.unwrap()), ["insert", "update"]);
    // A table that goes takes its own grants; a new one of the same name starts with none.
    let table = lakeward_model::TableRef::parse("main.crm.orders").unwrap();
    store.create_catalog(org.id, &table.catalog, None, admin.id).await.unwrap();
    store.create_schema(org.id, &table.catalog, &table.schema, None, admin.id).await.unwrap();
    store.register_table(org.id, &table, "file:///tmp/orders", admin.id).await.unwrap();
    store.grant(org.id, &orders, Grantee::User(bob.id), set(&[Privilege::Read]), admin.id).await.unwrap();
    store.unregister_table(org.id, &table).await.unwrap();
    assert_eq!(
        names(store.granted_privileges(org.id, bob.id, &orders).await.unwrap()),
        ["insert", "update"],
        "the schema's stay"
    );
    // A deleted team's grants go with it.
    store.delete_team(org.id, team.id).await.unwrap();
    assert_eq!(names(store.granted_privileges(org.id, carol.id, &orders).await.unwrap()), Vec::<&str>::new());
    assert_eq!(store.list_grants(org.id, &GrantFilter::default()).await.unwrap().len(), 2);
}
