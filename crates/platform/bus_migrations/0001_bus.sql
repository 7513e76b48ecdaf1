-- The embedded event bus: an append-only log per topic and each consumer group's position.
CREATE TABLE bus_log (
    topic TEXT NOT NULL,
    seq BIGINT NOT NULL,
    message_key TEXT NOT NULL,
    headers TEXT NOT NULL,
    payload BYTEA NOT NULL,
    appended_at BIGINT NOT NULL,
    PRIMARY KEY (topic, seq)
);

CREATE TABLE bus_topics (
    topic TEXT PRIMARY KEY
);

CREATE TABLE bus_offsets (
    consumer_group TEXT NOT NULL,
    topic TEXT NOT NULL,
    next_seq BIGINT NOT NULL,
    PRIMARY KEY (consumer_group, topic)
);
