-- The namespace an organisation sees: catalogs, schemas and the tables in them. The
-- tables' data, schema and history live in Delta; this registry says which tables exist,
-- where they live, and keeps listings fast and scoped to one organisation.
CREATE TABLE catalogs (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    comment     TEXT,
    created_at  BIGINT NOT NULL,
    created_by  TEXT,
    UNIQUE (org_id, name)
);

CREATE TABLE schemas (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    catalog     TEXT NOT NULL,
    name        TEXT NOT NULL,
    comment     TEXT,
    created_at  BIGINT NOT NULL,
    created_by  TEXT,
    UNIQUE (org_id, catalog, name)
);

CREATE TABLE tables (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    catalog     TEXT NOT NULL,
    schema_name TEXT NOT NULL,
    name        TEXT NOT NULL,
    location    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT,
    UNIQUE (org_id, catalog, schema_name, name)
);
