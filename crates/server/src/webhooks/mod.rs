//! Webhook deliveries. An event that a webhook subscribes to is queued as a delivery row
//! in the background (the write that caused it never waits and never fails for it), and a
//! dispatcher sends due deliveries: signed, with a timeout, retried with exponential
//! backoff, and recorded with their status and response code.
//!
//! Receivers verify a delivery with the `Lakeward-Signature` header,
//! `t=<unix seconds>,v1=<hex>`, where `<hex>` is HMAC-SHA256 under the webhook's secret of
//! `"<t>.<raw body>"`; they should also refuse a `t` far from their clock (replays).
//!
//! What can be subscribed to is [`EventKind::subscribable`]; `*` subscribes to all of it.
//!
//! Deliveries go only to public addresses unless the server allows private ones
//! ([`targets`]).

pub mod targets;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use lakeward_meta::secrets::{self, ServerSecret};
use lakeward_meta::store::{Delivery, DeliveryResult, Webhook};
use lakeward_meta::{EventKind, MetaStore};
use serde_json::{Value, json};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::metrics::{DeliveryAttempts, Outcome};

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Longest a receiver may take to answer one delivery.
    pub timeout: Duration,
    /// The wait before the first retry; it doubles with every further failure.
    pub retry_base: Duration,
    /// Attempts before a delivery is given up as failed.
    pub max_attempts: u32,
    /// Whether webhooks may target loopback, private and link-local addresses. Off by
    /// default: on a shared server they would let users reach the server's own network.
    pub allow_private_targets: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(5),
            max_attempts: 8,
            allow_private_targets: false,
        }
    }
}

pub struct Webhooks {
    meta: MetaStore,
    sealing_key: Vec<u8>,
    config: WebhookConfig,
    client: webhook_client::Client,
    wake: Notify,
    attempts: DeliveryAttempts,
}

impl Webhooks {
    pub fn new(meta: MetaStore, secret: &ServerSecret, config: WebhookConfig) -> anyhow::Result<Arc<Self>> {
        let mut client = webhook_client::Client::builder()
            .timeout(config.timeout)
            .redirect(webhook_client::redirect::Policy::none())
            .user_agent(concat!("lakeward-webhooks/", env!("CARGO_PKG_VERSION")));
        if !config.allow_private_targets {
            // The resolver checks the addresses the client connects to; through a proxy it
            // would only see the proxy's, so deliveries connect directly.
            client = client.dns_resolver(Arc::new(targets::PublicOnly)).no_proxy();
        }
        let client = client.build()?;
        Ok(Arc::new(Self {
            meta,
            sealing_key: secret.derive("webhook-secrets"),
            config,
            client,
            wake: Notify::new(),
            attempts: Default::default(),
        }))
    }

    /// The delivery attempts counted so far, by outcome, for the server's metrics.
    pub(crate) fn delivery_attempts(&self) -> &DeliveryAttempts {
        &self.attempts
    }

    pub fn allows_private_targets(&self) -> bool {
        self.config.allow_private_targets
    }

    pub fn seal(&self, secret: &str) -> String {
        secrets::seal(&self.sealing_key, secret)
    }

    /// Queues `event` for every subscribed webhook of the organisation, in the background.
    /// Audit-only events ([`EventKind::subscribable`]) are never sent.
    pub fn emit(self: &Arc<Self>, org_id: Uuid, event: EventKind, target: Option<(&str, &str)>, data: Value) {
        if !event.subscribable() {
            return;
        }
        let event = event.as_str();
        let payload = json!({
            "id": Uuid::now_v7(),
            "event": event,
            "created_at": Utc::now(),
            "organisation_id": org_id,
            "target": target.map(|(kind, id)| json!({ "type": kind, "id": id })),
            "data": data,
        })
        .to_string();
        let this = self.clone();
        tokio::spawn(async move {
            match this.meta.queue_deliveries(org_id, event, &payload).await {
                Ok(0) => {}
                Ok(_) => this.wake.notify_one(),
                Err(err) => tracing::warn!(%err, event, "queueing webhook deliveries failed"),
            }
        });
    }

    /// Sends a ping to one webhook now and records the attempt like any other.
    pub async fn ping(&self, hook: &Webhook) -> anyhow::Result<Delivery> {
        let payload = json!({
            "id": Uuid::now_v7(),
            "event": "ping",
            "created_at": Utc::now(),
            "organisation_id": hook.org_id,
            "target": { "type": "webhook", "id": hook.id },
            "data": {},
        })
        .to_string();
        let id = self.meta.queue_delivery(hook, "ping", &payload).await?;
        let claimed = self.meta.get_delivery(hook.org_id, id).await?.ok_or_else(|| anyhow::anyhow!("lost delivery"))?;
        // A ping is answered at once and not retried: the caller is waiting for it.
        let result = match self.attempt(&claimed, hook).await {
            Ok(code) => DeliveryResult::Delivered { response_code: code },
            Err((code, error)) => DeliveryResult::Failed { response_code: code, error, retry_at: None },
        };
        self.meta.record_attempt(id, result).await?;
        self.meta.get_delivery(hook.org_id, id).await?.ok_or_else(|| anyhow::anyhow!("lost delivery"))
    }

    /// One HTTP attempt: the response code on a 2xx; otherwise the code (if any) and why.
    async fn attempt(&self, delivery: &Delivery, hook: &Webhook) -> Result<i64, (Option<i64>, String)> {
        if !self.config.allow_private_targets {
            // An IP address is connected to without resolving, so the resolver never sees it.
            let url = url::Url::parse(&hook.url).map_err(|e| (None, format!("invalid URL: {e}")))?;
            if let Some(refusal) = targets::delivery_refusal(&url) {
                return Err((None, refusal));
            }
        }
        let secret = secrets::unseal(&self.sealing_key, &hook.secret_sealed)
            .ok_or((None, "the webhook's secret cannot be opened with this server's secret".to_owned()))?;
        let timestamp = Utc::now().timestamp();
        let signature = secrets::webhook_signature(&secret, timestamp, delivery.payload.as_bytes());
        let sent = self
            .client
            .post(&hook.url)
            .header("content-type", "application/json")
            .header("lakeward-event", &delivery.event)
            .header("lakeward-delivery", delivery.id.to_string())
            .header("lakeward-signature", format!("t={timestamp},v1={signature}"))
            .body(delivery.payload.clone())
            .send()
            .await;
        match sent {
            Ok(res) if res.status().is_success() => Ok(i64::from(res.status().as_u16())),
            Ok(res) => Err((Some(i64::from(res.status().as_u16())), format!("the receiver answered {}", res.status()))),
            Err(err) if err.is_timeout() => {
                Err((None, format!("no answer within {} ms", self.config.timeout.as_millis())))
            }
            Err(err) => Err((None, format!("cannot reach the receiver: {}", cause(&err)))),
        }
    }

    async fn deliver(&self, delivery: Delivery, hook: Webhook) {
        let result = match self.attempt(&delivery, &hook).await {
            Ok(code) => DeliveryResult::Delivered { response_code: code },
            Err((code, error)) => {
                let attempts = delivery.attempts as u32 + 1;
                let retry_at = (attempts < self.config.max_attempts).then(|| {
                    let wait = self.config.retry_base.saturating_mul(1 << (attempts - 1).min(16));
                    Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
                });
                DeliveryResult::Failed { response_code: code, error, retry_at }
            }
        };
        self.attempts.count(match &result {
            DeliveryResult::Delivered { .. } => Outcome::Delivered,
            DeliveryResult::Failed { retry_at: Some(_), .. } => Outcome::Retrying,
            DeliveryResult::Failed { retry_at: None, .. } => Outcome::Failed,
        });
        if let Err(err) = self.meta.record_attempt(delivery.id, result).await {
            tracing::warn!(%err, delivery = %delivery.id, "recording a webhook attempt failed");
        }
    }

    /// Sends due deliveries until the returned task is aborted.
    pub fn spawn_dispatcher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let lease_ms = (this.config.timeout.as_millis() as i64) * 2 + 5_000;
            loop {
                let claimed = match this.meta.claim_due_deliveries(32, lease_ms).await {
                    Ok(c) => c,
                    Err(err) => {
                        tracing::warn!(%err, "claiming webhook deliveries failed");
                        Vec::new()
                    }
                };
                if !claimed.is_empty() {
                    futures::future::join_all(claimed.into_iter().map(|(d, h)| this.deliver(d, h))).await;
                    continue;
                }
                let wait = match this.meta.next_delivery_due().await {
                    Ok(Some(due)) => (due - Utc::now()).to_std().unwrap_or(Duration::ZERO),
                    _ => Duration::from_secs(60),
                };
                // Also wakes for newly queued events; never sleeps past 60 s in case
                // another replica queued something.
                let _ = tokio::time::timeout(wait.min(Duration::from_secs(60)), this.wake.notified()).await;
            }
        })
    }
}

/// The innermost cause of a failed request (reqwest's own text names the URL, which may
/// carry credentials in its query).
fn cause(err: &webhook_client::Error) -> String {
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(err);
    let mut text = if err.is_connect() { "connection failed".to_owned() } else { "request failed".to_owned() };
    while let Some(c) = cause {
        text = c.to_string();
        cause = c.source();
    }
    text
}
