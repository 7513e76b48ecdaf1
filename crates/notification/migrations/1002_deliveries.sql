-- One delivery record per source event: where it went, how it stands, how many tries.
CREATE TABLE deliveries (
    source_event_id TEXT PRIMARY KEY,
    destination TEXT NOT NULL,
    channel TEXT NOT NULL,
    transport TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
