-- Long-running work (imports) with status and progress that clients poll.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    -- running, succeeded, failed
    status       TEXT NOT NULL,
    target       TEXT,
    rows_read    BIGINT NOT NULL,
    rows_written BIGINT NOT NULL,
    version      BIGINT,
    -- On failure: the error body a request would have answered (JSON).
    error        TEXT,
    created_by   TEXT,
    created_at   BIGINT NOT NULL,
    finished_at  BIGINT
);
CREATE INDEX jobs_org ON jobs (org_id, created_at);
