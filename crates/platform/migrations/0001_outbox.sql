-- Shared by every service database: the transactional outbox and the consumers' record of
-- processed events. Portable SQL: the same file runs on PostgreSQL and SQLite.
CREATE TABLE outbox (
    event_id TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    message_key TEXT NOT NULL,
    event_type TEXT NOT NULL,
    headers TEXT NOT NULL,
    payload BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_expires_at BIGINT NOT NULL DEFAULT 0,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX outbox_by_age ON outbox (lease_expires_at, created_at, event_id);
CREATE INDEX outbox_by_lease_owner ON outbox (lease_owner);

CREATE TABLE processed_events (
    consumer_group TEXT NOT NULL,
    event_id TEXT NOT NULL,
    processed_at BIGINT NOT NULL,
    PRIMARY KEY (consumer_group, event_id)
);
