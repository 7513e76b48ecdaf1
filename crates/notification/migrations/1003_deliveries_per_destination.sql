-- A security alert is one message per contact of the account, so a delivery and its inbox
-- message are keyed by (source event, destination) rather than by source event alone; a
-- code event still has exactly one. The tables are rebuilt because SQLite cannot change a
-- primary key or drop a UNIQUE constraint in place.
CREATE TABLE deliveries_per_destination (
    source_event_id TEXT NOT NULL,
    destination TEXT NOT NULL,
    channel TEXT NOT NULL,
    transport TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (source_event_id, destination)
);
INSERT INTO deliveries_per_destination
    (source_event_id, destination, channel, transport, status, attempts, last_error, created_at, updated_at)
SELECT source_event_id, destination, channel, transport, status, attempts, last_error, created_at, updated_at
FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_per_destination RENAME TO deliveries;

CREATE TABLE inbox_messages_per_destination (
    message_id TEXT PRIMARY KEY,
    source_event_id TEXT NOT NULL,
    destination TEXT NOT NULL,
    channel TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (source_event_id, destination)
);
INSERT INTO inbox_messages_per_destination
    (message_id, source_event_id, destination, channel, subject, body, created_at)
SELECT message_id, source_event_id, destination, channel, subject, body, created_at
FROM inbox_messages;
DROP TABLE inbox_messages;
ALTER TABLE inbox_messages_per_destination RENAME TO inbox_messages;
CREATE INDEX inbox_messages_by_destination ON inbox_messages (destination, message_id);
