-- What the registry knows of each account, from identity's events: who its alerts go to and
-- whether it has a second factor. Contacts are newline-separated (E.164 numbers and email
-- addresses hold none).
CREATE TABLE accounts (
    mi_id BIGINT PRIMARY KEY,
    contacts TEXT NOT NULL DEFAULT '',
    locale TEXT NOT NULL DEFAULT '',
    has_second_factor BIGINT NOT NULL DEFAULT 0
);

-- The owner's audit trail: one entry per device event, written in the event's transaction.
-- Times are milliseconds since the epoch; empty text means "none".
CREATE TABLE audit_entries (
    entry_id TEXT PRIMARY KEY,
    mi_id BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL,
    action TEXT NOT NULL,
    device_id TEXT NOT NULL,
    command_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    session_id TEXT NOT NULL,
    client_address TEXT NOT NULL,
    result TEXT NOT NULL
);
CREATE INDEX audit_entries_by_account ON audit_entries (mi_id, recorded_at, entry_id);
CREATE INDEX audit_entries_by_time ON audit_entries (recorded_at);

-- The reactivation lock looks erased devices up by hardware id.
CREATE INDEX devices_by_hardware_id ON devices (hardware_id);
