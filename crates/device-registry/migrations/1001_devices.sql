-- Devices linked to accounts.
CREATE TABLE devices (
    device_id TEXT NOT NULL,
    mi_id BIGINT NOT NULL,
    model TEXT NOT NULL,
    os TEXT NOT NULL,
    name TEXT NOT NULL,
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (mi_id, device_id)
);
CREATE INDEX devices_by_account ON devices (mi_id, linked_at);
