-- Job leases: the process running a job renews its lease while it runs; a queued or
-- running job whose lease has expired belongs to a process that stopped, and any server
-- marks it failed.
ALTER TABLE jobs ADD COLUMN lease_expires_at BIGINT;
