-- The account snapshot backfill (domain/snapshots.rs), one row per snapshot version: the last
-- Mi ID whose snapshot is in the outbox, so a restart resumes after it; when it finished
-- (NULL until then); and which replica holds the claim until when, so only one does the work.
-- Times are milliseconds since the epoch.
CREATE TABLE snapshot_backfills (
    version BIGINT PRIMARY KEY,
    last_mi_id BIGINT NOT NULL,
    finished_at BIGINT,
    claimed_by TEXT NOT NULL,
    claim_expires_at BIGINT NOT NULL
);
