-- A stand-in for a service's state, changed in the same transaction as an outbox write.
CREATE TABLE widgets (
    widget_id TEXT PRIMARY KEY
);
