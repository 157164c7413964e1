-- The job runner: the process that runs a job, progress with totals, a result, start and
-- update times, and cancel requests. Statuses: queued, running, succeeded, failed, cancelled.
ALTER TABLE jobs ADD COLUMN instance_id TEXT;
ALTER TABLE jobs ADD COLUMN rows_total BIGINT;
ALTER TABLE jobs ADD COLUMN bytes_read BIGINT;
ALTER TABLE jobs ADD COLUMN bytes_total BIGINT;
ALTER TABLE jobs ADD COLUMN steps_done BIGINT;
ALTER TABLE jobs ADD COLUMN steps_total BIGINT;
-- On success: what the job produced (JSON), e.g. the version committed and rows written.
ALTER TABLE jobs ADD COLUMN result TEXT;
ALTER TABLE jobs ADD COLUMN started_at BIGINT;
ALTER TABLE jobs ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN cancel_requested_at BIGINT;
-- Jobs recorded before: they started when created, and last changed when they ended.
UPDATE jobs SET started_at = created_at, updated_at = COALESCE(finished_at, created_at);
UPDATE jobs SET result = '{"version":' || CAST(version AS TEXT) || ',"rows_written":' || CAST(rows_written AS TEXT) || '}'
    WHERE status = 'succeeded' AND version IS NOT NULL;
CREATE INDEX jobs_org_status ON jobs (org_id, status, created_at);
