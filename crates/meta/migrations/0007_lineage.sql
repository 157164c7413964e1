-- Where tables came from: one row per table a clone made, naming the source (by registry
-- id, and by name as it was then), the version cloned, the options, the job and the actor.
-- Rows outlive the tables they name, so a table's lineage stays readable after a drop.
CREATE TABLE table_lineage (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL,
    source_table_id TEXT NOT NULL,
    source_name     TEXT NOT NULL,
    source_version  BIGINT NOT NULL,
    target_table_id TEXT NOT NULL,
    target_name     TEXT NOT NULL,
    kind            TEXT NOT NULL,
    options         TEXT NOT NULL,
    job_id          TEXT,
    created_at      BIGINT NOT NULL,
    created_by      TEXT
);
CREATE INDEX table_lineage_source ON table_lineage (org_id, source_table_id);
CREATE INDEX table_lineage_target ON table_lineage (org_id, target_table_id);
CREATE INDEX table_lineage_job ON table_lineage (org_id, job_id)
