-- The dev inbox: every message as it would have been sent. One message per source event.
CREATE TABLE inbox_messages (
    message_id TEXT PRIMARY KEY,
    source_event_id TEXT NOT NULL UNIQUE,
    destination TEXT NOT NULL,
    channel TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX inbox_messages_by_destination ON inbox_messages (destination, message_id);
