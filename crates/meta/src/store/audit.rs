//! The audit trail: an append-only record of who did what, when and from where.
//!
//! Events carry summaries, never secrets: callers put ids, names and before/after values
//! in `details`, not passwords, keys or tokens.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::events::EventKind;

use super::{MetaResult, MetaStore, now_ms, opt_uuid, time, uuid};

#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    /// The organisation whose admins may read the event; `None` for events that belong to
    /// no organisation (a failed login for an unknown email).
    pub org_id: Option<Uuid>,
    /// `user`, `api_key`, `anonymous` or `system`.
    pub actor_type: &'static str,
    pub actor_id: Option<Uuid>,
    /// What happened, stored by its dotted name (`apikey.created`).
    pub action: EventKind,
    pub target_type: Option<&'static str>,
    pub target_id: Option<String>,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    pub details: Value,
}

impl NewAuditEvent {
    /// `action` by an unnamed actor on no target, with empty details: a base to fill in.
    pub fn new(action: EventKind) -> Self {
        Self {
            org_id: None,
            actor_type: "system",
            actor_id: None,
            action,
            target_type: None,
            target_id: None,
            client_ip: None,
            request_id: None,
            details: Value::Object(Default::default()),
        }
    }
}

/// An event as stored. Its action stays a string: the trail keeps whatever names older
/// versions recorded.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub id: Uuid,
    pub org_id: Option<Uuid>,
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    pub details: Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    /// Matches the action's leading segment, `apikey` for `apikey.created` and the like.
    pub action_prefix: Option<String>,
    pub actor_id: Option<Uuid>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    pub total: i64,
}

fn event_from_row(row: &AnyRow) -> sqlx::Result<AuditEvent> {
    let details: String = row.try_get("details")?;
    Ok(AuditEvent {
        id: uuid(row, "id")?,
        org_id: opt_uuid(row, "org_id")?,
        actor_type: row.try_get("actor_type")?,
        actor_id: opt_uuid(row, "actor_id")?,
        action: row.try_get("action")?,
        target_type: row.try_get("target_type")?,
        target_id: row.try_get("target_id")?,
        client_ip: row.try_get("client_ip")?,
        request_id: row.try_get("request_id")?,
        details: serde_json::from_str(&details).unwrap_or(Value::Null),
        created_at: time(row, "created_at")?,
    })
}

impl MetaStore {
    pub async fn record_audit(&self, event: NewAuditEvent) -> MetaResult<Uuid> {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO audit_events (id, org_id, actor_type, actor_id, action, target_type, target_id, client_ip, \
             request_id, details, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(id.to_string())
        .bind(event.org_id.map(|id| id.to_string()))
        .bind(event.actor_type)
        .bind(event.actor_id.map(|id| id.to_string()))
        .bind(event.action.as_str())
        .bind(event.target_type)
        .bind(event.target_id)
        .bind(event.client_ip)
        .bind(event.request_id)
        .bind(event.details.to_string())
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// One organisation's events, newest first.
    pub async fn list_audit(
        &self,
        org_id: Uuid,
        filter: &AuditFilter,
        limit: i64,
        offset: i64,
    ) -> MetaResult<AuditPage> {
        // Conditions are fixed text; only values are bound.
        let mut conditions = vec!["org_id = $1".to_owned()];
        let mut values: Vec<String> = vec![org_id.to_string()];
        let mut push = |condition: &str, value: String| {
            values.push(value);
            conditions.push(condition.replace('?', &format!("${}", values.len())));
        };
        if let Some(action) = &filter.action {
            push("action = ?", action.clone());
        }
        if let Some(prefix) = &filter.action_prefix {
            push("substr(action, 1, length(?)) = ?", format!("{prefix}."));
        }
        if let Some(actor) = filter.actor_id {
            push("actor_id = ?", actor.to_string());
        }
        if let Some(target_type) = &filter.target_type {
            push("target_type = ?", target_type.clone());
        }
        if let Some(target_id) = &filter.target_id {
            push("target_id = ?", target_id.clone());
        }
        let where_clause = conditions.join(" AND ");
        let mut time_clause = String::new();
        if filter.since.is_some() {
            time_clause.push_str(&format!(" AND created_at >= ${}", values.len() + 1));
        }
        if filter.until.is_some() {
            let n = values.len() + 1 + usize::from(filter.since.is_some());
            time_clause.push_str(&format!(" AND created_at < ${n}"));
        }
        let count_sql = format!("SELECT COUNT(*) FROM audit_events WHERE {where_clause}{time_clause}");
        let n = values.len() + usize::from(filter.since.is_some()) + usize::from(filter.until.is_some());
        let page_sql = format!(
            "SELECT id, org_id, actor_type, actor_id, action, target_type, target_id, client_ip, request_id, details, \
             created_at FROM audit_events WHERE {where_clause}{time_clause} ORDER BY created_at DESC, id DESC \
             LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let bind_all = |sql: &String| {
            let mut query = sqlx::query(AssertSqlSafe(sql.clone()));
            for value in &values {
                query = query.bind(value.clone());
            }
            if let Some(since) = filter.since {
                query = query.bind(since.timestamp_millis());
            }
            if let Some(until) = filter.until {
                query = query.bind(until.timestamp_millis());
            }
            query
        };
        let total: i64 = bind_all(&count_sql).fetch_one(self.pool()).await?.try_get(0)?;
        let rows = bind_all(&page_sql).bind(limit).bind(offset).fetch_all(self.pool()).await?;
        Ok(AuditPage { events: rows.iter().map(event_from_row).collect::<sqlx::Result<_>>()?, total })
    }

    /// Events of no organisation, for operators (failed logins for unknown emails).
    pub async fn count_unowned_audit(&self, action: &str) -> MetaResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE org_id IS NULL AND action = $1")
            .bind(action)
            .fetch_one(self.pool())
            .await?)
    }
}
