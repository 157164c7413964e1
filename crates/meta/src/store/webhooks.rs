//! Webhook endpoints and their delivery queue. Deliveries are rows: queued when an event
//! happens, claimed with a lease by whichever replica sends them, retried with backoff,
//! and kept with their outcome for the endpoint's owner to inspect.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{MetaError, MetaResult, MetaStore, now_ms, opt_time, opt_uuid, time, uuid};

#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: Uuid,
    pub org_id: Uuid,
    pub url: String,
    /// Event names, or `["*"]` for all.
    pub events: Vec<String>,
    pub description: Option<String>,
    pub secret_sealed: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

impl Webhook {
    pub fn wants(&self, event: &str) -> bool {
        self.active && self.events.iter().any(|e| e == "*" || e == event)
    }
}

pub struct NewWebhook<'a> {
    pub org_id: Uuid,
    pub url: &'a str,
    pub events: &'a [String],
    pub description: Option<&'a str>,
    pub secret_sealed: &'a str,
    pub created_by: Uuid,
}

#[derive(Debug, Default)]
pub struct WebhookUpdate {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub org_id: Uuid,
    pub event: String,
    pub payload: String,
    pub status: String,
    pub attempts: i64,
    pub response_code: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// What one attempt came to.
pub enum DeliveryResult {
    Delivered {
        response_code: i64,
    },
    /// Retry at `retry_at`, or give up when `None`.
    Failed {
        response_code: Option<i64>,
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
}

const WEBHOOK_COLUMNS: &str = "id, org_id, url, events, description, secret_sealed, active, created_at, created_by";
const DELIVERY_COLUMNS: &str = "id, webhook_id, org_id, event, payload, status, attempts, response_code, last_error, \
     next_attempt_at, created_at, delivered_at";

fn webhook_from_row(row: &AnyRow) -> sqlx::Result<Webhook> {
    let events: String = row.try_get("events")?;
    Ok(Webhook {
        id: uuid(row, "id")?,
        org_id: uuid(row, "org_id")?,
        url: row.try_get("url")?,
        events: events.split(' ').filter(|e| !e.is_empty()).map(str::to_owned).collect(),
        description: row.try_get("description")?,
        secret_sealed: row.try_get("secret_sealed")?,
        active: row.try_get::<i64, _>("active")? != 0,
        created_at: time(row, "created_at")?,
        created_by: opt_uuid(row, "created_by")?,
    })
}

fn delivery_from_row(row: &AnyRow) -> sqlx::Result<Delivery> {
    Ok(Delivery {
        id: uuid(row, "id")?,
        webhook_id: uuid(row, "webhook_id")?,
        org_id: uuid(row, "org_id")?,
        event: row.try_get("event")?,
        payload: row.try_get("payload")?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        response_code: row.try_get("response_code")?,
        last_error: row.try_get("last_error")?,
        next_attempt_at: time(row, "next_attempt_at")?,
        created_at: time(row, "created_at")?,
        delivered_at: opt_time(row, "delivered_at")?,
    })
}

impl MetaStore {
    pub async fn create_webhook(&self, new: NewWebhook<'_>) -> MetaResult<Webhook> {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO webhooks (id, org_id, url, events, description, secret_sealed, active, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8)",
        )
        .bind(id.to_string())
        .bind(new.org_id.to_string())
        .bind(new.url)
        .bind(new.events.join(" "))
        .bind(new.description)
        .bind(new.secret_sealed)
        .bind(now_ms())
        .bind(new.created_by.to_string())
        .execute(&self.pool)
        .await?;
        self.get_webhook(new.org_id, id).await?.ok_or(MetaError::NotFound)
    }

    pub async fn get_webhook(&self, org_id: Uuid, id: Uuid) -> MetaResult<Option<Webhook>> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1 AND org_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .bind(org_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(webhook_from_row).transpose()?)
    }

    pub async fn list_webhooks(&self, org_id: Uuid) -> MetaResult<Vec<Webhook>> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE org_id = $1 ORDER BY created_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(org_id.to_string()).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(webhook_from_row).collect::<sqlx::Result<_>>()?)
    }

    pub async fn update_webhook(&self, org_id: Uuid, id: Uuid, update: WebhookUpdate) -> MetaResult<Webhook> {
        let current = self.get_webhook(org_id, id).await?.ok_or(MetaError::NotFound)?;
        sqlx::query(
            "UPDATE webhooks SET url = $1, events = $2, description = $3, active = $4 WHERE id = $5 AND org_id = $6",
        )
        .bind(update.url.unwrap_or(current.url))
        .bind(update.events.unwrap_or(current.events).join(" "))
        .bind(update.description.unwrap_or(current.description))
        .bind(i64::from(update.active.unwrap_or(current.active)))
        .bind(id.to_string())
        .bind(org_id.to_string())
        .execute(&self.pool)
        .await?;
        self.get_webhook(org_id, id).await?.ok_or(MetaError::NotFound)
    }

    pub async fn delete_webhook(&self, org_id: Uuid, id: Uuid) -> MetaResult<()> {
        let done = sqlx::query("DELETE FROM webhooks WHERE id = $1 AND org_id = $2")
            .bind(id.to_string())
            .bind(org_id.to_string())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(MetaError::NotFound);
        }
        Ok(())
    }

    /// Queues one delivery of `payload` for every active webhook of the organisation that
    /// wants `event`; returns how many were queued.
    pub async fn queue_deliveries(&self, org_id: Uuid, event: &str, payload: &str) -> MetaResult<usize> {
        let mut queued = 0;
        for hook in self.list_webhooks(org_id).await?.into_iter().filter(|w| w.wants(event)) {
            self.queue_delivery(&hook, event, payload).await?;
            queued += 1;
        }
        Ok(queued)
    }

    /// Queues one delivery to one webhook, due now.
    pub async fn queue_delivery(&self, hook: &Webhook, event: &str, payload: &str) -> MetaResult<Uuid> {
        let id = Uuid::now_v7();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, org_id, event, payload, status, attempts, \
             next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
        )
        .bind(id.to_string())
        .bind(hook.id.to_string())
        .bind(hook.org_id.to_string())
        .bind(event)
        .bind(payload)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Claims up to `limit` due deliveries for `lease_ms`, so that no other sender takes
    /// them meanwhile. Each claim is one guarded statement.
    pub async fn claim_due_deliveries(&self, limit: i64, lease_ms: i64) -> MetaResult<Vec<(Delivery, Webhook)>> {
        let now = now_ms();
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
             AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_attempt_at LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(limit).fetch_all(&self.pool).await?;
        let mut claimed = Vec::new();
        for row in &rows {
            let delivery = delivery_from_row(row)?;
            let taken = sqlx::query(
                "UPDATE webhook_deliveries SET lease_until = $1 WHERE id = $2 AND status = 'pending' \
                 AND (lease_until IS NULL OR lease_until < $3)",
            )
            .bind(now + lease_ms)
            .bind(delivery.id.to_string())
            .bind(now)
            .execute(&self.pool)
            .await?;
            if taken.rows_affected() == 1
                && let Some(hook) = self.get_webhook(delivery.org_id, delivery.webhook_id).await?
            {
                claimed.push((delivery, hook));
            }
        }
        Ok(claimed)
    }

    /// The earliest time a pending delivery falls due, if any.
    pub async fn next_delivery_due(&self) -> MetaResult<Option<DateTime<Utc>>> {
        let row = sqlx::query("SELECT MIN(next_attempt_at) AS due FROM webhook_deliveries WHERE status = 'pending'")
            .fetch_one(&self.pool)
            .await?;
        Ok(opt_time(&row, "due")?)
    }

    pub async fn record_attempt(&self, id: Uuid, result: DeliveryResult) -> MetaResult<()> {
        let now = now_ms();
        let query = match result {
            DeliveryResult::Delivered { response_code } => sqlx::query(
                "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, response_code = $1, \
                 last_error = NULL, delivered_at = $2, lease_until = NULL WHERE id = $3",
            )
            .bind(response_code)
            .bind(now)
            .bind(id.to_string()),
            DeliveryResult::Failed { response_code, error, retry_at } => sqlx::query(
                "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, response_code = $2, \
                 last_error = $3, next_attempt_at = $4, lease_until = NULL WHERE id = $5",
            )
            .bind(if retry_at.is_some() { "pending" } else { "failed" })
            .bind(response_code)
            .bind(error)
            .bind(retry_at.map(|t| t.timestamp_millis()).unwrap_or(now))
            .bind(id.to_string()),
        };
        query.execute(&self.pool).await?;
        Ok(())
    }

    pub async fn get_delivery(&self, org_id: Uuid, id: Uuid) -> MetaResult<Option<Delivery>> {
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1 AND org_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .bind(org_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(delivery_from_row).transpose()?)
    }

    /// A webhook's deliveries, newest first.
    pub async fn list_deliveries(&self, org_id: Uuid, webhook_id: Uuid, limit: i64) -> MetaResult<Vec<Delivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND org_id = $2 \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(webhook_id.to_string())
            .bind(org_id.to_string())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(delivery_from_row).collect::<sqlx::Result<_>>()?)
    }
}
