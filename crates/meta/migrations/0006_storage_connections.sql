-- Storage connections: an organisation's own buckets and containers. `settings` is the JSON
-- of what is not secret (bucket, region, endpoint, base path, discovery flags); the
-- credentials are one JSON document sealed (AES-256-GCM) under a sub-key of the server
-- secret; `secret_hint` is what answers show of them (a masked access key id).
CREATE TABLE storage_connections (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    settings       TEXT NOT NULL,
    secrets_sealed TEXT NOT NULL,
    secret_hint    TEXT,
    read_only      BIGINT NOT NULL,
    -- The catalog its discovered tables are registered under.
    catalog        TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    created_by     TEXT,
    updated_at     BIGINT NOT NULL,
    UNIQUE (org_id, name),
    UNIQUE (org_id, catalog)
);
-- A table on a connection (discovered, or created in a catalog bound to one); NULL for
-- managed tables in the warehouse.
ALTER TABLE tables ADD COLUMN connection_id TEXT;
CREATE INDEX tables_connection ON tables (connection_id);
