-- Outbox rows the bus refused for what they are (too large, malformed): parked here with the
-- error so that they no longer hold up the rows behind them. An operator can read them, fix
-- the cause and copy a row back into the outbox to publish it again. Portable SQL.
CREATE TABLE outbox_dead_letters (
    event_id TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    message_key TEXT NOT NULL,
    event_type TEXT NOT NULL,
    headers TEXT NOT NULL,
    payload BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    error TEXT NOT NULL,
    parked_at BIGINT NOT NULL
);
CREATE INDEX outbox_dead_letters_by_time ON outbox_dead_letters (parked_at);

-- The relay reads the oldest row's age for its gauge and its stuck-relay warning.
CREATE INDEX outbox_by_created_at ON outbox (created_at);
