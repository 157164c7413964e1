-- Webhook endpoints and their deliveries. A delivery is queued in the same database the
-- audit trail lives in, so it survives restarts and any replica can send it; a lease
-- keeps two replicas from sending the same delivery at once.
CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    url           TEXT NOT NULL,
    -- Space-separated event names, or `*`.
    events        TEXT NOT NULL,
    description   TEXT,
    -- The signing secret, sealed (AES-256-GCM) under a sub-key of the server secret.
    secret_sealed TEXT NOT NULL,
    active        BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    created_by    TEXT
);
CREATE INDEX webhooks_org ON webhooks (org_id);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    org_id          TEXT NOT NULL,
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    -- pending, delivered, failed (gave up after the last attempt)
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    response_code   BIGINT,
    last_error      TEXT,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at);
